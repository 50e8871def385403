"""Index advice without HypoPG: an UNVERIFIED heuristic, labelled as such everywhere.

Per query and table, the most specific candidate (the most keys: equality columns, then a
range or sort key) is taken; candidates are ranked by the total execution time of the queries
that asked for them, with the per-table limit of the selection policy, and an index that is a
prefix of one already taken (or the other way round) is skipped.
"""

from __future__ import annotations

from perfpilot.database.advisor_input import AdvisorInput, ShapedQuery
from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.recommendation import (
    UNVERIFIED,
    AdvisorReport,
    HelpedQuery,
    IndexRecommendation,
    QueryVerdict,
    recommendation,
)
from perfpilot.database.selection import SelectionPolicy


def heuristic_report(prepared: AdvisorInput, reason: str, policy: SelectionPolicy) -> AdvisorReport:
    weights: dict[IndexDefinition, float] = {}
    users: dict[IndexDefinition, list[ShapedQuery]] = {}
    for shaped in prepared.shaped():
        for index in _most_specific(shaped):
            weights[index] = weights.get(index, 0.0) + shaped.query.total_ms
            users.setdefault(index, []).append(shaped)
    taken: list[IndexDefinition] = []
    for index in sorted(weights, key=lambda i: -weights[i]):
        same_table = [t for t in taken if t.table == index.table]
        if len(same_table) < policy.max_new_per_table and not any(
            _prefix(index, t) or _prefix(t, index) for t in same_table
        ):
            taken.append(index)
    recommendations = tuple(_unverified(i, users[i], weights[i], reason) for i in taken)
    return AdvisorReport(
        verified=False,
        unverified_reason=reason,
        recommendations=recommendations,
        verdicts=tuple(_verdict(q, reason) for q in prepared.queries),
        fingerprints=len(prepared.queries),
        fingerprints_costed=0,
        candidates=len(prepared.options),
        whatif_costings=0,
    )


def _most_specific(shaped: ShapedQuery) -> list[IndexDefinition]:
    best: dict[object, IndexDefinition] = {}
    for index in shaped.candidates:
        current = best.get(index.table)
        if current is None or len(index.keys) > len(current.keys):
            best[index.table] = index
    return list(best.values())


def _prefix(short: IndexDefinition, long: IndexDefinition) -> bool:
    return long.keys[: len(short.keys)] == short.keys


def _unverified(
    index: IndexDefinition, users: list[ShapedQuery], weight_ms: float, reason: str
) -> IndexRecommendation:
    helped = [
        HelpedQuery(q.query.fingerprint, q.query.text, q.query.calls, None, None, None)
        for q in users
    ]
    note = (
        f"{UNVERIFIED}: {reason}. Targets queries that took {weight_ms:.0f} ms in total; "
        "whether the planner would use it is not known"
    )
    return recommendation(index, helped, None, note, verified=False)


def _verdict(shaped: ShapedQuery, reason: str) -> QueryVerdict:
    query = shaped.query
    why = shaped.reason if shaped.reason is not None else f"not costed: {reason}"
    return QueryVerdict(query.fingerprint, query.text, query.calls, False, why)
