"""Database and cache analyses (pure): the tuner's and the cache optimizer's plans as actions."""

from __future__ import annotations

from perfpilot.cache.plan import ActionKind as CacheKind
from perfpilot.cache.plan import CacheAction
from perfpilot.database.plan import ActionKind as DbKind
from perfpilot.database.plan import PlannedAction
from perfpilot.optimizer.ids import action_id
from perfpilot.optimizer.inputs import DatabaseInputs, Inputs, Thresholds
from perfpilot.optimizer.model import (
    Action,
    Category,
    Evidence,
    Executor,
    Finding,
    Level,
    OptimizationType,
    TypeAnalysis,
    answer,
    unavailable,
)

DB, CACHE = OptimizationType.DATABASE, OptimizationType.CACHE

# Impact and effort per tuner action kind: an index turns a scan into a lookup (high) and is one
# online statement (low effort); VACUUM (ANALYZE) refreshes plans and visibility (medium);
# a configuration change needs a reload or restart and watching afterwards (medium effort).
_DB_WEIGHTS = {
    DbKind.CREATE_INDEX: (Level.HIGH, Level.LOW),
    DbKind.VACUUM_ANALYZE: (Level.MEDIUM, Level.LOW),
    DbKind.ALTER_SYSTEM: (Level.MEDIUM, Level.MEDIUM),
}
_DB_TITLES = {
    DbKind.CREATE_INDEX: "Create index: {name}",
    DbKind.VACUUM_ANALYZE: "VACUUM (ANALYZE) {target}",
    DbKind.ALTER_SYSTEM: "Set {target} = {value}",
}
_CACHE_WEIGHTS = {
    CacheKind.TTL_POLICY: (Level.HIGH, Level.LOW),
    CacheKind.PRELOAD: (Level.MEDIUM, Level.LOW),
    CacheKind.EXPIRE_KEYS: (Level.MEDIUM, Level.LOW),
    CacheKind.COMPRESS_VALUES: (Level.MEDIUM, Level.MEDIUM),
}
# What answers a low hit ratio: longer (or adaptive) TTLs keep keys resident, and preloading
# the hot keys through the application's loaders fills them before they are missed.
HIT_RATIO_ACTIONS = (CacheKind.TTL_POLICY, CacheKind.PRELOAD)


def database_analysis(inputs: Inputs, limits: Thresholds) -> TypeAnalysis:
    """Client backends against ``db_connections``, the tuner's health findings and plan."""
    db = inputs.database
    if db is None:
        return unavailable(DB, inputs.database_reason or "database not read")
    figures: Evidence = {
        "client_backends": db.client_backends,
        "threshold": limits.db_connections,
        "max_connections": db.max_connections,
        "statements_window": db.report.window,
    }
    findings = [
        Finding(DB, f.check, f.subject, f.message, {e.name: e.value for e in f.evidence})
        for f in db.report.health.findings
        if f.severity.value in ("warning", "critical")
    ]
    if db.client_backends > limits.db_connections:
        findings.append(
            Finding(DB, "db_connections", db.report.database,
                    f"{db.client_backends} client backends > {limits.db_connections}",
                    {"client_backends": db.client_backends}),
        )  # fmt: skip
    actions = [database_action(a, db) for a in db.report.actions]
    quiet = f"{db.client_backends} client backends (<= {limits.db_connections}); no tuner actions"
    return answer(DB, figures, findings, actions, quiet)


def database_action(planned: PlannedAction, db: DatabaseInputs) -> Action:
    impact, effort = _DB_WEIGHTS[planned.kind]
    by_fingerprint = {g.fingerprint: g.queryids for g in db.report.statements}
    queryids = tuple(q for f in planned.fingerprints for q in by_fingerprint.get(f, ()))
    title = _DB_TITLES[planned.kind].format(
        name=planned.name, target=planned.target, value=planned.value
    )
    return Action(
        action_id("database", "database", planned.id), DB, Category.DATABASE, title, impact,
        effort, planned.risk, Executor.DATABASE, planned.id, planned.reason,
        {"target": planned.target, "before_mean_ms": planned.before_mean_ms,
         "queries": len(planned.fingerprints)},
        reversible=planned.kind is DbKind.CREATE_INDEX, queryids=queryids,
        statement=planned.statement,
    )  # fmt: skip


def cache_analysis(inputs: Inputs, limits: Thresholds) -> TypeAnalysis:
    """The hit ratio against ``cache_hit_rate``; a low one answered by TTL and preload actions."""
    report = inputs.cache
    if report is None:
        return unavailable(CACHE, inputs.cache_reason or "cache not read")
    ratio = report.window.hit_ratio if report.window else None
    figures: Evidence = {
        "hit_ratio": None if ratio is None else round(ratio, 4),
        "threshold": limits.cache_hit_rate,
        "keys": report.server.keys,
        "writes": report.writes,
    }
    findings = [
        Finding(CACHE, f.check, f.subject, f.message, dict(f.evidence))
        for f in report.findings
        if f.severity.value in ("warning", "critical")
    ]
    actions = [cache_action(a) for a in report.actions]
    low = ratio is not None and ratio < limits.cache_hit_rate
    if low:
        answers = [a for a in report.actions if a.kind in HIT_RATIO_ACTIONS]
        findings.append(
            Finding(CACHE, "low_hit_ratio", "redis",
                    f"hit ratio {ratio:.1%} < {limits.cache_hit_rate:.0%}; "
                    + (f"answered by {len(answers)} TTL/preload actions" if answers
                       else f"no TTL or preload action possible ({report.writes})"),
                    {"hit_ratio": ratio, "ttl_preload_actions": len(answers)}),
        )  # fmt: skip
        # The actions that answer the low ratio go first.
        actions.sort(key=lambda a: a.ref not in {c.id for c in answers})
    quiet = "hit ratio " + ("n/a (no lookups)" if ratio is None else f"{ratio:.1%}")
    return answer(CACHE, figures, findings, actions, quiet + "; nothing to change")


def cache_action(a: CacheAction) -> Action:
    impact, effort = _CACHE_WEIGHTS[a.kind]
    return Action(
        action_id("cache", "cache", a.id), CACHE, Category.CACHE,
        f"{a.kind.value.replace('_', ' ')} on {a.target}", impact, effort, a.risk,
        Executor.CACHE, a.id, a.reason,
        {"namespace": a.target, "expected_effect": a.expected_effect, "kind": a.kind.value},
        statement=a.statement,
    )  # fmt: skip
