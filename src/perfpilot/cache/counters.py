"""Per-namespace counters of the client library, flushed to a per-minute Redis hash.

The flush is one pipeline of HINCRBY calls on ``perfpilot:stats:<epoch minute>`` (expiring after
an hour), so many application processes add into the same buckets and the service reads the
last five minutes with five HGETALLs. Client-safe: standard library only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

FIELDS = (
    "hits",
    "misses",
    "sets",
    "bytes_read",
    "bytes_written",
    "bytes_saved",
    "latency_us",
    "ops",
)


@dataclass(frozen=True, slots=True)
class NamespaceCounts:
    """Counts of one namespace; ``bytes_saved`` is raw minus stored bytes written."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    bytes_saved: int = 0
    latency_us: int = 0
    ops: int = 0

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups; None without lookups."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


class Tally:
    """One namespace's counts since the last flush.

    Plain slotted attributes, incremented in place: the client counts several fields on every
    GET and SET, and an attribute increment is several times cheaper than a nested dict one.
    """

    __slots__ = FIELDS

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.sets = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.bytes_saved = 0
        self.latency_us = 0
        self.ops = 0

    def as_dict(self) -> dict[str, int]:
        """The non-zero counts by field name."""
        values = {name: getattr(self, name) for name in FIELDS}
        return {name: amount for name, amount in values.items() if amount}


class Counters:
    """Counts since the last flush, by namespace."""

    def __init__(self) -> None:
        self._pending: dict[bytes, Tally] = {}

    def of(self, namespace: bytes) -> Tally:
        """The namespace's tally, to increment in place."""
        tally = self._pending.get(namespace)
        if tally is None:
            tally = self._pending[namespace] = Tally()
        return tally

    def add(self, namespace: bytes, field: str, amount: int = 1) -> None:
        tally = self.of(namespace)
        setattr(tally, field, getattr(tally, field) + amount)

    def take(self) -> dict[bytes, dict[str, int]]:
        """The pending counts, resetting them (called by the flush)."""
        pending, self._pending = self._pending, {}
        return {ns: tally.as_dict() for ns, tally in pending.items()}

    def restore(self, taken: dict[bytes, dict[str, int]]) -> None:
        """Put back counts a failed flush could not write, so they go with the next one."""
        for ns, fields in taken.items():
            for field, amount in fields.items():
                self.add(ns, field, amount)


def field_name(counter: str, namespace: bytes) -> bytes:
    """Hash field of one counter: ``b"hits:" + namespace`` (counter names have no colon)."""
    return counter.encode() + b":" + namespace


def parse_bucket(raw: dict[bytes, bytes]) -> dict[bytes, NamespaceCounts]:
    """One minute's hash back into counts by namespace (unknown fields are ignored)."""
    values: defaultdict[bytes, dict[str, int]] = defaultdict(dict)
    for field, value in raw.items():
        counter, sep, namespace = field.partition(b":")
        name = counter.decode("ascii", errors="replace")
        if sep and name in FIELDS:
            values[namespace][name] = int(value)
    return {ns: NamespaceCounts(**fields) for ns, fields in values.items()}


def merge(parts: list[dict[bytes, NamespaceCounts]]) -> dict[bytes, NamespaceCounts]:
    """Sum of several minutes' counts, by namespace."""
    total: defaultdict[bytes, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for part in parts:
        for ns, counts in part.items():
            for name in FIELDS:
                total[ns][name] += getattr(counts, name)
    return {ns: NamespaceCounts(**fields) for ns, fields in total.items()}
