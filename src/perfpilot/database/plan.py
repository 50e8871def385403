"""From a database report to the changes the tuner could make (pure), each with its risk."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from perfpilot.core.settings import RiskLevel
from perfpilot.database.checks import HealthReport
from perfpilot.database.impact import IndexVerdict
from perfpilot.database.ledger import BuiltIndex
from perfpilot.database.pgtune_compare import ApplyBy, SettingChange
from perfpilot.database.recommendation import IndexRecommendation


class ActionKind(StrEnum):
    CREATE_INDEX = "create_index"
    VACUUM_ANALYZE = "vacuum_analyze"
    ALTER_SYSTEM = "alter_system"


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One change the tuner proposes; ``id`` is stable for the same change, so a client can
    plan first and then apply exactly the ids it reviewed."""

    id: str
    kind: ActionKind
    risk: RiskLevel
    target: str
    statement: str
    reason: str
    # The pieces the action function needs, kept apart from the display statement.
    schema: str = ""
    table: str = ""
    name: str = ""
    keys: tuple[str, ...] = ()
    value: str = ""
    fingerprints: tuple[str, ...] = ()
    before_mean_ms: float | None = None


def action_id(kind: ActionKind, target: str) -> str:
    """Short stable id of a change: the same kind on the same target gets the same id."""
    return hashlib.sha256(f"{kind}|{target}".encode()).hexdigest()[:12]


def rejected_definitions(ledger: Sequence[BuiltIndex]) -> set[tuple[str, str, str]]:
    """(schema, table, keys) of indexes that were built, judged useless and dropped."""
    useless = (IndexVerdict.NO_EFFECT, IndexVerdict.UNUSED)
    return {(b.schema, b.table, b.definition) for b in ledger if b.verdict in useless}


def index_actions(
    recommendations: Sequence[IndexRecommendation],
    ledger: Sequence[BuiltIndex],
    mean_ms: dict[str, float],
) -> list[PlannedAction]:
    """CREATE INDEX CONCURRENTLY for each verified recommendation not judged useless before."""
    rejected = rejected_definitions(ledger)
    actions = []
    for rec in recommendations:
        definition = ", ".join(rec.keys)
        if not rec.verified or (rec.schema, rec.table, definition) in rejected:
            continue
        fingerprints = tuple(q.fingerprint for q in rec.queries)
        weighted = [
            (mean_ms[f], q.calls)
            for f, q in zip(fingerprints, rec.queries, strict=True)
            if f in mean_ms
        ]
        calls = sum(c for _, c in weighted)
        before = sum(m * c for m, c in weighted) / calls if calls else None
        saved = rec.time_saved_ms_per_day
        reason = f"helps {len(rec.queries)} queries; cost {rec.cost_before} -> {rec.cost_after}" + (
            f"; saves ~{saved / 1000:.0f} s/day" if saved is not None else ""
        )
        target = f"{rec.schema}.{rec.table}({definition})"
        actions.append(
            PlannedAction(
                id=action_id(ActionKind.CREATE_INDEX, target),
                kind=ActionKind.CREATE_INDEX,
                risk=RiskLevel.MEDIUM,
                target=target,
                statement=rec.ddl,
                reason=reason,
                schema=rec.schema,
                table=rec.table,
                name=rec.name,
                keys=rec.keys,
                fingerprints=fingerprints,
                before_mean_ms=before,
            )
        )
    return actions


def vacuum_actions(health: HealthReport) -> list[PlannedAction]:
    """VACUUM (ANALYZE) for every table autovacuum's own formulas call due."""
    actions = []
    seen: set[tuple[str, str]] = set()
    for finding in health.by_check("tables_due_for_vacuum") + health.by_check(
        "tables_due_for_analyze"
    ):
        schema, table = str(finding.value("schema")), str(finding.value("table"))
        if (schema, table) in seen:
            continue
        seen.add((schema, table))
        target = f"{schema}.{table}"
        actions.append(
            PlannedAction(
                id=action_id(ActionKind.VACUUM_ANALYZE, target),
                kind=ActionKind.VACUUM_ANALYZE,
                risk=RiskLevel.LOW,
                target=target,
                statement=f'VACUUM (ANALYZE, SKIP_LOCKED) "{schema}"."{table}"',
                reason=finding.message,
                schema=schema,
                table=table,
            )
        )
    return actions


def setting_actions(changes: Sequence[SettingChange]) -> list[PlannedAction]:
    """ALTER SYSTEM for reload-context differences; restart-only ones stay advice."""
    return [
        PlannedAction(
            id=action_id(ActionKind.ALTER_SYSTEM, change.name),
            kind=ActionKind.ALTER_SYSTEM,
            risk=RiskLevel.HIGH,
            target=change.name,
            statement=f"ALTER SYSTEM SET {change.name} = '{change.recommended}'",
            reason=f"PGTune: {change.current} -> {change.recommended}",
            name=change.name,
            value=change.recommended,
        )
        for change in changes
        if change.apply_by is ApplyBy.RELOAD
    ]
