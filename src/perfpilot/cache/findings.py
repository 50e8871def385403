"""Eviction-policy, memory and keyspace findings: pure functions of the readings, with evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from perfpilot.cache.keyrank import RankedKey
from perfpilot.cache.namespaces import NamespaceSummary
from perfpilot.cache.server_info import CommandStat, InfoDelta, ServerSnapshot, SlowEntry

Evidence = dict[str, float | int | str | None]

# Used memory above this share of maxmemory leaves little room before evictions (or, with
# noeviction, write errors) begin.
MEMORY_HIGH = 0.9
# jemalloc fragmentation above 1.5 on a non-trivial dataset is worth active defragmentation;
# below 1.0 the OS is swapping Redis out.
# https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/memory-optimization/
FRAG_HIGH = 1.5
FRAG_MIN_BYTES = 100 * 1024 * 1024
# A single command over 1 ms per call blocks every other client for that long.
SLOW_CALL_US = 1000.0


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class CacheFinding:
    check: str
    severity: Severity
    subject: str
    message: str
    evidence: Evidence = field(default_factory=dict)
    expected_effect: str = ""


def memory_findings(s: ServerSnapshot) -> list[CacheFinding]:
    out = []
    if s.maxmemory_bytes == 0:
        out.append(
            CacheFinding(
                "maxmemory",
                Severity.WARNING,
                "server",
                "no maxmemory limit: the cache grows until the host runs out of memory",
                {"used_memory_bytes": s.used_memory_bytes},
                "set maxmemory below the host's memory so eviction, not the OOM killer, bounds it",
            )
        )
    else:
        share = s.used_memory_bytes / s.maxmemory_bytes
        if share >= MEMORY_HIGH:
            noevict = s.maxmemory_policy == "noeviction"
            out.append(
                CacheFinding(
                    "memory_pressure",
                    Severity.CRITICAL if noevict else Severity.WARNING,
                    "server",
                    f"used memory is {share:.0%} of maxmemory"
                    + (" and the policy is noeviction: writes will fail" if noevict else ""),
                    {
                        "used_memory_bytes": s.used_memory_bytes,
                        "maxmemory_bytes": s.maxmemory_bytes,
                    },
                    "shorter TTLs on cold namespaces or more memory keep hot keys resident",
                )
            )
    if (
        s.fragmentation_ratio is not None
        and s.used_memory_bytes >= FRAG_MIN_BYTES
        and s.fragmentation_ratio > FRAG_HIGH
    ):
        out.append(
            CacheFinding(
                "fragmentation",
                Severity.WARNING,
                "server",
                f"memory fragmentation ratio {s.fragmentation_ratio:.2f}",
                {"ratio": s.fragmentation_ratio, "rss_bytes": s.used_memory_rss_bytes},
                "activedefrag yes returns the fragmented share to the OS",
            )
        )
    return out


def policy_findings(
    s: ServerSnapshot, namespaces: Sequence[NamespaceSummary]
) -> list[CacheFinding]:
    out = []
    without_ttl = sum(n.without_ttl for n in namespaces)
    if s.maxmemory_policy.startswith("volatile") and without_ttl:
        out.append(
            CacheFinding(
                "eviction_policy",
                Severity.WARNING,
                s.maxmemory_policy,
                f"{without_ttl} keys have no TTL: never evicted under {s.maxmemory_policy}",
                {"keys_without_ttl": without_ttl},
                "TTLs on cache namespaces, or an allkeys-* policy, make those keys evictable",
            )
        )
    if s.maxmemory_policy in ("allkeys-lru", "volatile-lru", "allkeys-random", "volatile-random"):
        out.append(
            CacheFinding(
                "eviction_policy",
                Severity.INFO,
                s.maxmemory_policy,
                "an LFU policy keeps frequently read keys over recently read ones and exposes "
                "OBJECT FREQ as a server-side hot-key signal",
                {"maxmemory_policy": s.maxmemory_policy},
                "allkeys-lfu usually raises the hit ratio of skewed (Zipf-like) cache workloads; "
                "perfpilot never changes it (CONFIG SET) itself",
            )
        )
    return out


def traffic_findings(
    window: InfoDelta | None,
    min_hit_ratio: float,
    commands: Sequence[CommandStat],
    slowlog: Sequence[SlowEntry],
) -> list[CacheFinding]:
    out = []
    if window is not None and window.hit_ratio is not None and window.hit_ratio < min_hit_ratio:
        out.append(
            CacheFinding(
                "hit_ratio",
                Severity.WARNING,
                "server",
                f"keyspace hit ratio {window.hit_ratio:.1%} is below {min_hit_ratio:.0%}",
                {
                    "hits": window.hits,
                    "misses": window.misses,
                    "window_s": window.seconds,
                    "sweep_lookups_subtracted": window.own_lookups,
                },
                "longer TTLs on namespaces that miss, or preloading their hot keys",
            )
        )
    if window is not None and window.evicted_keys > 0:
        out.append(
            CacheFinding(
                "evictions",
                Severity.WARNING,
                "server",
                f"{window.evicted_keys} keys evicted in the last {window.seconds:.0f} s",
                {"evicted_keys": window.evicted_keys},
                "evictions drop keys before their TTL; hit ratio falls as they grow",
            )
        )
    for stat in commands:
        if stat.command in ("keys", "flushall", "flushdb") or stat.usec_per_call > SLOW_CALL_US:
            out.append(
                CacheFinding(
                    "expensive_command",
                    Severity.WARNING,
                    stat.command,
                    f"{stat.command}: {stat.calls} calls, {stat.usec_per_call:.0f} us per call",
                    {"calls": stat.calls, "usec_per_call": stat.usec_per_call},
                    "each call blocks every other client for its duration",
                )
            )
    if slowlog:
        worst = max(slowlog, key=lambda e: e.duration_us)
        out.append(
            CacheFinding(
                "slowlog",
                Severity.INFO,
                "server",
                f"{len(slowlog)} slow commands logged; slowest {worst.duration_us} us: "
                f"{worst.command[:80]}",
                {"entries": len(slowlog), "max_us": worst.duration_us},
            )
        )
    return out


def big_key_findings(big: Sequence[RankedKey], threshold: int) -> list[CacheFinding]:
    return [
        CacheFinding(
            "big_key",
            Severity.WARNING,
            k.name,
            f"{k.type} of {(k.memory_bytes or 0) / 1e6:.1f} MB"
            + (f" with {k.elements} elements" if k.elements is not None else ""),
            {"memory_bytes": k.memory_bytes, "elements": k.elements},
            "reading or deleting it blocks Redis; split it or compress it",
        )
        for k in big
        if (k.memory_bytes or 0) >= threshold
    ]
