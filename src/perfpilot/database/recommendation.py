"""What the index advisor reports: recommendations with evidence, and a verdict per query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfpilot.database.indexdef import IndexDefinition, create_index_sql, index_name, key_sql

SECONDS_PER_DAY = 86_400
UNVERIFIED = "UNVERIFIED heuristic (no what-if costing)"


@dataclass(frozen=True)
class HelpedQuery:
    """A query whose plan, with the recommended set, uses the index and costs less.

    ``time_saved_ms_per_day`` = calls per day x mean_ms x (1 - cost_after / cost_before),
    divided among the recommended indexes the plan uses. It assumes execution time scales
    with the planner's cost, which is a model, not a measurement; None when the observation
    window is unknown (calls per day cannot be derived).
    """

    fingerprint: str
    text: str
    calls: int
    cost_before: float | None
    cost_after: float | None
    time_saved_ms_per_day: float | None


@dataclass(frozen=True)
class IndexRecommendation:
    """One index to create. ``cost_before``/``cost_after`` sum the planner costs of the helped
    queries without any new index and with the whole recommended set; None when unverified."""

    schema: str
    table: str
    name: str
    keys: tuple[str, ...]  # quoted key SQL, as between the parentheses of CREATE INDEX
    ddl: str
    verified: bool
    note: str
    size_bytes: int | None
    cost_before: float | None
    cost_after: float | None
    time_saved_ms_per_day: float | None
    queries: tuple[HelpedQuery, ...]


@dataclass(frozen=True)
class QueryVerdict:
    """What the advisor made of one fingerprint; ``costed`` False always comes with a reason."""

    fingerprint: str
    text: str
    calls: int
    costed: bool
    reason: str
    cost_before: float | None = None
    cost_after: float | None = None
    plan: str | None = None  # how it was costed: generic plan, or representative constants


@dataclass(frozen=True)
class AdvisorReport:
    verified: bool
    unverified_reason: str | None
    recommendations: tuple[IndexRecommendation, ...]
    verdicts: tuple[QueryVerdict, ...]
    fingerprints: int
    fingerprints_costed: int
    candidates: int
    whatif_costings: int


def recommendation(
    index: IndexDefinition,
    queries: Sequence[HelpedQuery],
    size_bytes: int | None,
    note: str,
    verified: bool,
) -> IndexRecommendation:
    name = index_name(index)
    before = [q.cost_before for q in queries if q.cost_before is not None]
    after = [q.cost_after for q in queries if q.cost_after is not None]
    saved = [q.time_saved_ms_per_day for q in queries if q.time_saved_ms_per_day is not None]
    return IndexRecommendation(
        schema=index.table.schema or "",
        table=index.table.name,
        name=name,
        keys=tuple(key_sql(k) for k in index.keys),
        ddl=create_index_sql(index, name, concurrently=True),
        verified=verified,
        note=note,
        size_bytes=size_bytes,
        cost_before=sum(before) if verified and before else None,
        cost_after=sum(after) if verified and after else None,
        time_saved_ms_per_day=sum(saved) if saved and len(saved) == len(queries) else None,
        queries=tuple(queries),
    )


def time_saved_ms_per_day(
    calls: int, mean_ms: float, ratio_saved: float, window_s: float | None, shared_by: int
) -> float | None:
    """See HelpedQuery; ``ratio_saved`` is 1 - cost_after / cost_before."""
    if window_s is None or window_s <= 0:
        return None
    calls_per_day = calls * SECONDS_PER_DAY / window_s
    return calls_per_day * mean_ms * ratio_saved / max(shared_by, 1)
