"""Namespace summaries from a sweep: counts, bytes, size percentiles, TTL spread, hit ratio."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perfpilot.cache.controlkeys import is_control_key
from perfpilot.cache.counters import NamespaceCounts
from perfpilot.cache.keyname import display, namespace_of, under_prefixes
from perfpilot.cache.sweep import KeyReading

# TTL buckets by remaining time: what is about to expire, minutes, hours, days.
TTL_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1m", 60_000),
    ("1m-1h", 3_600_000),
    ("1h-1d", 86_400_000),
    (">1d", float("inf")),
)


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    """One namespace; ``hit_ratio`` and counters are None without client counters for it."""

    namespace: bytes
    name: str
    managed: bool
    keys: int
    memory_bytes: int
    size_p50_bytes: float | None
    size_p90_bytes: float | None
    size_p99_bytes: float | None
    types: dict[str, int]
    ttl_buckets: dict[str, int]
    without_ttl: int
    hit_ratio: float | None
    lookups: int | None
    compression_saved_bytes: int | None


def summarize(
    readings: Iterable[KeyReading],
    delimiter: bytes,
    depth: int,
    managed: Sequence[bytes],
    counters: Mapping[bytes, NamespaceCounts],
) -> list[NamespaceSummary]:
    """Namespaces by memory, largest first; perfpilot's own control keys are left out."""
    groups: defaultdict[bytes, list[KeyReading]] = defaultdict(list)
    for reading in readings:
        if not is_control_key(reading.key):
            groups[namespace_of(reading.key, delimiter, depth)].append(reading)
    summaries = [_summary(ns, rs, managed, counters.get(ns)) for ns, rs in groups.items()]
    return sorted(summaries, key=lambda s: -s.memory_bytes)


def _summary(
    ns: bytes, readings: list[KeyReading], managed: Sequence[bytes], counts: NamespaceCounts | None
) -> NamespaceSummary:
    sizes = np.array([r.memory_bytes for r in readings if r.memory_bytes is not None], dtype=float)
    p50 = p90 = p99 = None
    if sizes.size:
        p50, p90, p99 = (float(v) for v in np.percentile(sizes, [50, 90, 99]))
    types: defaultdict[str, int] = defaultdict(int)
    buckets = dict.fromkeys((name for name, _ in TTL_BUCKETS), 0)
    without = 0
    for r in readings:
        types[r.type] += 1
        if r.pttl_ms < 0:
            without += r.pttl_ms == -1
            continue
        buckets[next(name for name, limit in TTL_BUCKETS if r.pttl_ms < limit)] += 1
    return NamespaceSummary(
        namespace=ns,
        name=display(ns) or "(no namespace)",
        managed=(bool(ns) and under_prefixes(ns, managed)) or _all_under(readings, managed),
        keys=len(readings),
        memory_bytes=int(sizes.sum()) if sizes.size else 0,
        size_p50_bytes=p50,
        size_p90_bytes=p90,
        size_p99_bytes=p99,
        types=dict(types),
        ttl_buckets=buckets,
        without_ttl=without,
        hit_ratio=counts.hit_ratio if counts else None,
        lookups=counts.hits + counts.misses if counts else None,
        compression_saved_bytes=counts.bytes_saved if counts else None,
    )


def _all_under(readings: list[KeyReading], managed: Sequence[bytes]) -> bool:
    return bool(managed) and all(under_prefixes(r.key, managed) for r in readings)
