"""The index advisor, wired in one place:

workload -> shapes (pglast) -> catalog -> candidates -> what-if costs (HypoPG) -> selection for
the whole workload -> recommendations with evidence, and a verdict for every query.
Without HypoPG the same candidates give a clearly labelled UNVERIFIED heuristic instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import TupleRow

from perfpilot.database.advisor_input import AdvisorInput, WorkloadQuery, advisor_input
from perfpilot.database.advisor_whatif import WhatIfOutcome, run_whatif
from perfpilot.database.candidates import CandidatePolicy
from perfpilot.database.catalog import read_catalog
from perfpilot.database.heuristic import heuristic_report
from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.recommendation import (
    AdvisorReport,
    HelpedQuery,
    IndexRecommendation,
    recommendation,
    time_saved_ms_per_day,
)
from perfpilot.database.selection import SelectionPolicy
from perfpilot.database.verdicts import query_verdicts
from perfpilot.database.whatif import hypopg_unavailable, whatif_session

logger = logging.getLogger(__name__)

__all__ = ["AdvisorPolicy", "AdvisorReport", "WorkloadQuery", "advise"]


@dataclass(frozen=True)
class AdvisorPolicy:
    schemas: tuple[str, ...] = ("public",)
    candidates: CandidatePolicy = field(default_factory=CandidatePolicy)
    selection: SelectionPolicy = field(default_factory=SelectionPolicy)
    statement_timeout_ms: int = 5_000
    lock_timeout_ms: int = 1_000


def advise(
    conn: psycopg.Connection[TupleRow],
    workload: Sequence[WorkloadQuery],
    policy: AdvisorPolicy | None = None,
    window_s: float | None = None,
) -> AdvisorReport:
    """Index advice for ``workload`` on the database of ``conn``, an autocommit connection;
    nothing is created or changed (hypothetical indexes live in this session only and are
    removed before returning).

    ``window_s`` is the time the workload's calls were counted over; it turns calls into
    calls per day for the time-saved estimate (None leaves that estimate out).
    """
    policy = policy or AdvisorPolicy()
    catalog = read_catalog(conn, policy.schemas)
    prepared = advisor_input(workload, catalog, policy.candidates)
    unavailable = hypopg_unavailable(conn)
    if unavailable is not None:
        logger.warning("index advice is unverified: %s", unavailable)
        return heuristic_report(prepared, unavailable, policy.selection)
    with whatif_session(conn, policy.statement_timeout_ms, policy.lock_timeout_ms) as whatif:
        outcome = run_whatif(prepared, catalog, whatif, policy.selection)
    recommendations = verified_recommendations(prepared, outcome, window_s)
    logger.info(
        "index advice: %d fingerprints, %d costed, %d candidates, %d what-if costings, "
        "%d recommendations",
        len(prepared.queries),
        len(outcome.baselines),
        len(prepared.options),
        outcome.costings,
        len(recommendations),
    )
    return AdvisorReport(
        verified=True,
        unverified_reason=None,
        recommendations=recommendations,
        verdicts=query_verdicts(prepared, outcome, recommendations),
        fingerprints=len(prepared.queries),
        fingerprints_costed=len(outcome.baselines),
        candidates=len(prepared.options),
        whatif_costings=outcome.costings,
    )


def verified_recommendations(
    prepared: AdvisorInput, outcome: WhatIfOutcome, window_s: float | None
) -> tuple[IndexRecommendation, ...]:
    """The selected indexes, each with the queries whose final plan uses it and costs less;
    a selected index no final plan uses (another one serves better) is left out. The members
    of a pair chosen for an OR are recommended one by one, each note naming the other."""
    chosen = frozenset(i for o in outcome.selection.chosen for i in o.indexes)
    found = []
    for option in outcome.selection.chosen:
        members = (option.index, *option.partners)
        for index in members:
            helped = _helped(index, prepared, outcome, window_s, chosen)
            if not helped:
                continue
            before_sum = sum(h.cost_before or 0.0 for h in helped)
            after_sum = sum(h.cost_after or 0.0 for h in helped)
            note = (
                f"verified with HypoPG: the plans of {len(helped)} workload queries use it, "
                f"planner cost {before_sum:.1f} -> {after_sum:.1f}"
            )
            partners = [str(i) for i in members if i != index]
            if partners:
                note += (
                    f"; costed together with {', '.join(partners)}: the plans combine them "
                    "for an OR (BitmapOr), neither was enough alone"
                )
            found.append(recommendation(index, helped, outcome.sizes[index], note, True))
    return tuple(found)


def _helped(
    index: IndexDefinition,
    prepared: AdvisorInput,
    outcome: WhatIfOutcome,
    window_s: float | None,
    chosen: frozenset[IndexDefinition],
) -> list[HelpedQuery]:
    """The queries whose final plan uses ``index`` and costs less than without new indexes."""
    queries = {q.query.fingerprint: q.query for q in prepared.queries}
    helped = []
    for fingerprint, final in outcome.selection.final.items():
        before = outcome.baselines[fingerprint].total
        if index not in final.used or final.total >= before:
            continue
        query = queries[fingerprint]
        ratio = 1 - final.total / before if before > 0 else 0.0
        saved = time_saved_ms_per_day(
            query.calls, query.mean_ms, ratio, window_s, len(final.used & chosen)
        )
        helped.append(HelpedQuery(fingerprint, query.text, query.calls, before, final.total, saved))
    return helped
