"""Which statements are behind a slow endpoint: those slow in the same periods (pure).

The application's metrics come in windows (one per read) and pg_stat_statements in periods
(one per snapshot delta). A statement is linked to an endpoint when it was slow
(mean >= the slow-statement mark) in periods overlapping the windows in which the endpoint was
slow. With three or more windows in which both were seen, the Pearson correlation of the
endpoint's p95 with the statement's mean is reported too; fewer say nothing about it (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfpilot.appmetrics.model import AppSnapshot
from perfpilot.database.workload_delta import WorkloadDelta

MIN_WINDOWS_FOR_R = 3


@dataclass(frozen=True, slots=True)
class StatementLink:
    fingerprint: str
    query: str
    queryids: tuple[int, ...]
    mean_ms: float
    calls: int
    overlap_s: float
    correlation: float | None


def _overlap_s(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def _span(snapshot: AppSnapshot) -> tuple[datetime, datetime]:
    return snapshot.at - timedelta(seconds=snapshot.window_s), snapshot.at


def _p95_ms(snapshot: AppSnapshot, endpoint: str) -> float | None:
    stats = next((e for e in snapshot.endpoints if e.endpoint == endpoint), None)
    return None if stats is None or stats.p95_s is None else stats.p95_s * 1000


def _per_statement(deltas: Sequence[WorkloadDelta]) -> dict[str, tuple[str, set[int], int, float]]:
    out: dict[str, tuple[str, set[int], int, float]] = {}
    for delta in deltas:
        for s in delta.statements:
            query, ids, calls, total = out.get(s.fingerprint, (s.query, set(), 0, 0.0))
            ids.add(s.queryid)
            out[s.fingerprint] = (query, ids, calls + s.calls, total + s.total_ms)
    return out


def statements_behind(
    endpoint: str,
    windows: Sequence[AppSnapshot],
    deltas: Sequence[WorkloadDelta],
    slow_endpoint_ms: float,
    slow_statement_ms: float,
    top: int = 3,
) -> list[StatementLink]:
    """Statements slow in the periods overlapping the endpoint's slow windows, heaviest first."""
    slow = [w for w in windows if (_p95_ms(w, endpoint) or 0.0) > slow_endpoint_ms]
    overlapping = [
        (d, sum(_overlap_s(_span(w), (d.started_at, d.ended_at)) for w in slow)) for d in deltas
    ]
    overlapping = [(d, o) for d, o in overlapping if o > 0]
    overlap_total = sum(o for _, o in overlapping)
    stats = _per_statement([d for d, _ in overlapping])
    links = []
    for fingerprint, (query, ids, calls, total) in stats.items():
        mean = total / calls if calls else 0.0
        if mean < slow_statement_ms:
            continue
        r = _correlation(endpoint, fingerprint, windows, deltas)
        links.append(
            StatementLink(fingerprint, query, tuple(sorted(ids)), mean, calls, overlap_total, r)
        )
    return sorted(links, key=lambda link: -link.mean_ms * link.calls)[:top]


def _correlation(
    endpoint: str, fingerprint: str, windows: Sequence[AppSnapshot], deltas: Sequence[WorkloadDelta]
) -> float | None:
    pairs: list[tuple[float, float]] = []
    for w in windows:
        p95 = _p95_ms(w, endpoint)
        inside = [d for d in deltas if _overlap_s(_span(w), (d.started_at, d.ended_at)) > 0]
        calls = sum(s.calls for d in inside for s in d.statements if s.fingerprint == fingerprint)
        total = sum(
            s.total_ms for d in inside for s in d.statements if s.fingerprint == fingerprint
        )
        if p95 is not None and calls:
            pairs.append((p95, total / calls))
    if len(pairs) < MIN_WINDOWS_FOR_R:
        return None
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if float(x.std()) == 0.0 or float(y.std()) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])
