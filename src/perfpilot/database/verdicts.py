"""A verdict for every fingerprint of the workload: costed or not, and why."""

from __future__ import annotations

from collections.abc import Sequence

from perfpilot.database.advisor_input import AdvisorInput, ShapedQuery
from perfpilot.database.advisor_whatif import WhatIfOutcome
from perfpilot.database.hypo_oracle import CostedStatement
from perfpilot.database.recommendation import IndexRecommendation, QueryVerdict


def query_verdicts(
    prepared: AdvisorInput,
    outcome: WhatIfOutcome,
    recommendations: Sequence[IndexRecommendation],
) -> tuple[QueryVerdict, ...]:
    helped_by: dict[str, list[str]] = {}
    for found in recommendations:
        for helped in found.queries:
            helped_by.setdefault(helped.fingerprint, []).append(found.name)
    verdicts = []
    for shaped in prepared.queries:
        query = shaped.query
        fingerprint = query.fingerprint
        if shaped.reason is not None:
            verdicts.append(
                QueryVerdict(fingerprint, query.text, query.calls, False, shaped.reason)
            )
            continue
        if fingerprint in outcome.failures:
            reason = f"could not be explained: {outcome.failures[fingerprint]}"
            verdicts.append(QueryVerdict(fingerprint, query.text, query.calls, False, reason))
            continue
        before = outcome.baselines[fingerprint].total
        final = outcome.selection.final.get(fingerprint)
        verdicts.append(
            QueryVerdict(
                fingerprint,
                query.text,
                query.calls,
                True,
                _reason(shaped, helped_by.get(fingerprint, []), outcome),
                before,
                final.total if final is not None else before,
                plan_label(outcome.statements[fingerprint]),
            )
        )
    return tuple(verdicts)


def plan_label(statement: CostedStatement) -> str:
    if not statement.constants:
        return "generic plan"
    values = ", ".join(f"${n} = {v!r}" for n, v in sorted(statement.constants.items()))
    return f"representative constants from pg_stats ({values})"


def _reason(shaped: ShapedQuery, helped_by: list[str], outcome: WhatIfOutcome) -> str:
    if helped_by:
        return f"helped by {', '.join(helped_by)}"
    if not shaped.candidates:
        if shaped.skipped:
            return "; ".join(skip.reason for skip in shaped.skipped)
        if shaped.covered:
            covered = ", ".join(str(index) for index in shaped.covered)
            return f"already indexed: existing indexes cover {covered}"
        return "no index candidate: no filter, join, ordering or grouping an index could serve"
    refused = [outcome.refused[i] for i in shaped.candidates if i in outcome.refused]
    if refused and len(refused) == len(shaped.candidates):
        return f"HypoPG refused every candidate: {refused[0]}"
    return "no candidate index lowered its planner cost enough to be selected"
