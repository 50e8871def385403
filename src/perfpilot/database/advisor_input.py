"""The pure first half of the advisor: workload text to shapes, reasons and candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from perfpilot.database.candidates import CandidatePolicy, TableSkip, query_candidates, relevant
from perfpilot.database.catalog import Catalog
from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.query import parse_query
from perfpilot.database.resolve import resolve_shape
from perfpilot.database.shape import QueryShape, Rejection


@dataclass(frozen=True)
class WorkloadQuery:
    """One statement group of the workload: normalized text (``$n`` parameters) and its totals
    over the observed window."""

    fingerprint: str
    text: str
    calls: int
    total_ms: float
    mean_ms: float


@dataclass(frozen=True)
class ShapedQuery:
    query: WorkloadQuery
    shape: QueryShape | None
    reason: str | None  # why the query cannot be used; set exactly when ``shape`` is None
    candidates: tuple[IndexDefinition, ...] = ()
    skipped: tuple[TableSkip, ...] = ()
    covered: tuple[IndexDefinition, ...] = ()
    groups: tuple[tuple[IndexDefinition, ...], ...] = ()  # per OR: one index per branch


@dataclass(frozen=True)
class AdvisorInput:
    queries: tuple[ShapedQuery, ...]
    # Every candidate, with the fingerprints of all queries that use its leading key.
    options: Mapping[IndexDefinition, tuple[str, ...]]
    # Indexes costed together (the branches of an OR), with the queries that asked for them.
    groups: Mapping[tuple[IndexDefinition, ...], tuple[str, ...]] = field(default_factory=dict)

    def shaped(self) -> tuple[ShapedQuery, ...]:
        return tuple(q for q in self.queries if q.shape is not None)


def advisor_input(
    workload: Sequence[WorkloadQuery], catalog: Catalog, policy: CandidatePolicy
) -> AdvisorInput:
    views = catalog.view_definitions()
    queries = tuple(_shaped(q, catalog, views, policy) for q in merge_fingerprints(workload))
    options: dict[IndexDefinition, tuple[str, ...]] = {}
    for query in queries:
        for index in query.candidates:
            if index not in options:
                options[index] = tuple(
                    q.query.fingerprint
                    for q in queries
                    if q.shape is not None and relevant(index, q.shape)
                )
    groups: dict[tuple[IndexDefinition, ...], tuple[str, ...]] = {}
    for query in queries:
        for group in query.groups:
            groups[group] = (*groups.get(group, ()), query.query.fingerprint)
    return AdvisorInput(queries, options, groups)


def merge_fingerprints(workload: Sequence[WorkloadQuery]) -> list[WorkloadQuery]:
    """One entry per fingerprint; repeated ones (e.g. several queryids) are summed."""
    merged: dict[str, WorkloadQuery] = {}
    for query in workload:
        seen = merged.get(query.fingerprint)
        if seen is None:
            merged[query.fingerprint] = query
            continue
        calls, total = seen.calls + query.calls, seen.total_ms + query.total_ms
        mean = total / calls if calls else seen.mean_ms
        merged[query.fingerprint] = WorkloadQuery(seen.fingerprint, seen.text, calls, total, mean)
    return list(merged.values())


def _shaped(
    query: WorkloadQuery, catalog: Catalog, views: Mapping[str, str], policy: CandidatePolicy
) -> ShapedQuery:
    parsed = parse_query(query.text, views)
    shape = resolve_shape(parsed, catalog) if isinstance(parsed, QueryShape) else parsed
    if isinstance(shape, Rejection):
        return ShapedQuery(query, None, shape.reason)
    found = query_candidates(shape, catalog, policy)
    return ShapedQuery(
        query, shape, None, found.indexes, found.skipped, found.covered, found.groups
    )
