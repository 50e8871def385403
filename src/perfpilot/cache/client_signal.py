"""What the client library flushed: per-namespace counters of the last minutes and hot keys."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.counters import NamespaceCounts, merge, parse_bucket


@dataclass(frozen=True, slots=True)
class HotKeyCount:
    key: bytes
    count: float


@dataclass(frozen=True, slots=True)
class ClientSignal:
    """Counters over ``window_s`` by namespace, the merged top-K, and loader namespaces.

    Counted by the application itself, so the sweep's own lookups never enter them.
    """

    window_s: int
    clients: int
    namespaces: dict[bytes, NamespaceCounts]
    hot: tuple[HotKeyCount, ...]
    loaders: frozenset[bytes]
    # The keyspace lookups reading this made (INFO counts them like any client's).
    own_hits: int = 0
    own_misses: int = 0

    @property
    def available(self) -> bool:
        return self.clients > 0 or bool(self.namespaces)


async def read_client_signal(
    client: aioredis.Redis, window_s: int = 300, top: int = 200, now_s: float | None = None
) -> ClientSignal:
    """Read the last ``window_s`` (whole minutes, the current one included) in two round trips.

    Every read is of a hash or sorted set, which Redis deletes when empty, so an empty reply
    means a missing key: that is how the lookups are counted as hits or misses.
    """
    now = time.time() if now_s is None else now_s
    minute = int(now // 60)
    minutes = max(1, window_s // 60)
    async with client.pipeline(transaction=False) as pipe:
        for m in range(minute - minutes + 1, minute + 1):
            pipe.hgetall(ck.stats_key(m))
        pipe.zrange(ck.CLIENTS, 0, -1, withscores=True)
        pipe.hkeys(ck.LOADERS)
        replies = await pipe.execute()
    buckets = [parse_bucket(cast(dict[bytes, bytes], r)) for r in replies[:minutes]]
    registered = cast(list[tuple[bytes, float]], replies[minutes])
    client_ids = [c.decode() for c, seen in registered if seen >= now - window_s]
    loaders = frozenset(cast(list[bytes], replies[minutes + 1]))
    hot, hot_replies = await _merged_hot(client, client_ids, top)
    found = sum(1 for r in [*replies, *hot_replies] if r)
    lookups = len(replies) + len(hot_replies)
    return ClientSignal(
        window_s, len(client_ids), merge(buckets), hot, loaders, found, lookups - found
    )


async def _merged_hot(
    client: aioredis.Redis, client_ids: list[str], top: int
) -> tuple[tuple[HotKeyCount, ...], list[object]]:
    if not client_ids:
        return (), []
    async with client.pipeline(transaction=False) as pipe:
        for cid in client_ids:
            pipe.zrevrange(ck.hot_key(cid), 0, top - 1, withscores=True)
        replies = await pipe.execute()
    totals: dict[bytes, float] = {}
    for reply in replies:
        for key, score in cast(list[tuple[bytes, float]], reply):
            totals[key] = totals.get(key, 0.0) + float(score)
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return tuple(HotKeyCount(k, c) for k, c in ranked), list(replies)
