"""INFO, commandstats and SLOWLOG of the target Redis as typed snapshots, and their deltas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from perfpilot.cache.keyname import display


@dataclass(frozen=True, slots=True)
class ServerSnapshot:
    """One INFO reading; counters are cumulative since the server's last stats reset."""

    at: datetime
    version: str
    role: str
    uptime_s: int
    maxmemory_bytes: int
    maxmemory_policy: str
    used_memory_bytes: int
    used_memory_rss_bytes: int
    fragmentation_ratio: float | None
    keyspace_hits: int
    keyspace_misses: int
    evicted_keys: int
    expired_keys: int
    commands_processed: int
    ops_per_s: float
    used_cpu_s: float
    keys: int
    expires: int

    @property
    def lfu(self) -> bool:
        """Whether OBJECT FREQ is the per-key access signal (else OBJECT IDLETIME)."""
        return "lfu" in self.maxmemory_policy

    @property
    def has_no_touch(self) -> bool:
        """CLIENT NO-TOUCH exists from Redis 7.2."""
        return _version_tuple(self.version) >= (7, 2)


@dataclass(frozen=True, slots=True)
class InfoDelta:
    """What happened between two snapshots, the sweep's own lookups already subtracted."""

    seconds: float
    hits: int
    misses: int
    evicted_keys: int
    expired_keys: int
    commands: int
    own_lookups: int

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups > 0 else None


@dataclass(frozen=True, slots=True)
class CommandStat:
    command: str
    calls: int
    usec: int
    usec_per_call: float


@dataclass(frozen=True, slots=True)
class SlowEntry:
    id: int
    started_at: int
    duration_us: int
    command: str
    client: str


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


def _int(info: dict[str, Any], name: str) -> int:
    return int(info.get(name, 0) or 0)


def parse_snapshot(info: dict[str, Any], at: datetime) -> ServerSnapshot:
    """A snapshot from ``INFO all`` as redis-py parses it."""
    keys = expires = 0
    for name, value in info.items():
        if name.startswith("db") and isinstance(value, dict):
            keys += int(value.get("keys", 0))
            expires += int(value.get("expires", 0))
    frag = info.get("mem_fragmentation_ratio")
    return ServerSnapshot(
        at=at,
        version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        uptime_s=_int(info, "uptime_in_seconds"),
        maxmemory_bytes=_int(info, "maxmemory"),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        used_memory_bytes=_int(info, "used_memory"),
        used_memory_rss_bytes=_int(info, "used_memory_rss"),
        fragmentation_ratio=float(frag) if frag is not None else None,
        keyspace_hits=_int(info, "keyspace_hits"),
        keyspace_misses=_int(info, "keyspace_misses"),
        evicted_keys=_int(info, "evicted_keys"),
        expired_keys=_int(info, "expired_keys"),
        commands_processed=_int(info, "total_commands_processed"),
        ops_per_s=float(info.get("instantaneous_ops_per_sec", 0) or 0),
        used_cpu_s=float(info.get("used_cpu_sys", 0)) + float(info.get("used_cpu_user", 0)),
        keys=keys,
        expires=expires,
    )


def delta(
    before: ServerSnapshot, after: ServerSnapshot, own_hits: int, own_misses: int
) -> InfoDelta | None:
    """Counters between two snapshots minus the sweep's own lookups; None across a restart or
    a CONFIG RESETSTAT (counters went backwards), where no delta is meaningful."""
    if after.keyspace_hits < before.keyspace_hits or after.uptime_s < before.uptime_s:
        return None
    return InfoDelta(
        seconds=(after.at - before.at).total_seconds(),
        hits=max(0, after.keyspace_hits - before.keyspace_hits - own_hits),
        misses=max(0, after.keyspace_misses - before.keyspace_misses - own_misses),
        evicted_keys=after.evicted_keys - before.evicted_keys,
        expired_keys=after.expired_keys - before.expired_keys,
        commands=after.commands_processed - before.commands_processed,
        own_lookups=own_hits + own_misses,
    )


async def read_snapshot(client: aioredis.Redis, at: datetime) -> ServerSnapshot:
    return parse_snapshot(await client.info("all"), at)


async def read_commandstats(client: aioredis.Redis, top: int = 15) -> list[CommandStat]:
    """Commands by total server time, heaviest first."""
    raw = await client.info("commandstats")
    stats = []
    for name, value in raw.items():
        if not name.startswith("cmdstat_") or not isinstance(value, dict):
            continue
        stats.append(
            CommandStat(
                command=name.removeprefix("cmdstat_"),
                calls=int(value.get("calls", 0)),
                usec=int(value.get("usec", 0)),
                usec_per_call=float(value.get("usec_per_call", 0.0)),
            )
        )
    return sorted(stats, key=lambda s: -s.usec)[:top]


async def read_slowlog(client: aioredis.Redis, count: int = 20) -> list[SlowEntry]:
    entries = await client.slowlog_get(count)
    out = []
    for entry in entries:
        command = entry.get("command", b"")
        text = display(command) if isinstance(command, bytes) else str(command)
        client_addr = entry.get("client_address", b"")
        out.append(
            SlowEntry(
                id=int(entry.get("id", 0)),
                started_at=int(entry.get("start_time", 0)),
                duration_us=int(entry.get("duration", 0)),
                command=text[:200],
                client=display(client_addr) if isinstance(client_addr, bytes) else str(client_addr),
            )
        )
    return out
