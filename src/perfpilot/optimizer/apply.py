"""Carrying an action out through the component that owns it, and undoing a regressed one.

Each component keeps its own guards: the tuner its allow-lists, budgets and risk policy, the
cache optimizer its managed prefixes, the scaler its bounds and cooldowns. The optimizer only
chooses which of their planned actions to run, and passes who asked (the trigger).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg
import redis.exceptions

from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.cache.optimizer import UnknownActions as UnknownCacheActions
from perfpilot.core.audit import AuditEntry, AuditLog, Outcome
from perfpilot.core.clock import Clock
from perfpilot.core.risk import Trigger
from perfpilot.core.settings import DatabaseConfig
from perfpilot.database import actions as db_actions
from perfpilot.database.impact import IndexVerdict
from perfpilot.database.ledger import IndexLedger
from perfpilot.database.tuner import DatabaseTuner
from perfpilot.database.tuner import UnknownActions as UnknownDbActions
from perfpilot.optimizer.model import Action, Executor
from perfpilot.optimizer.records import ActionRecord, ActionStatus
from perfpilot.scaling.scaler import AutoScaler

_STATUS = {
    Outcome.APPLIED: ActionStatus.APPLIED,
    Outcome.PLANNED: ActionStatus.PLANNED,
    Outcome.SKIPPED: ActionStatus.SKIPPED,
    Outcome.FAILED: ActionStatus.FAILED,
    Outcome.REVERTED: ActionStatus.REVERTED,
}


@dataclass(frozen=True, slots=True)
class Applied:
    status: ActionStatus
    detail: str


@dataclass
class Appliers:
    clock: Clock
    tuner: DatabaseTuner | None = None
    dsn: str | None = None
    database: DatabaseConfig | None = None
    ledger: IndexLedger | None = None
    audit: AuditLog | None = None
    cache: CacheOptimizer | None = None
    scaler: AutoScaler | None = None

    async def apply(self, action: Action, trigger: Trigger) -> Applied:
        """Run the action through its component; component errors become a FAILED status."""
        try:
            if action.executor is Executor.DATABASE and self.tuner is not None:
                _, outcomes = await asyncio.to_thread(self.tuner.optimize, trigger, [action.ref])
                return Applied(_STATUS[outcomes[0].outcome], outcomes[0].detail)
            if action.executor is Executor.CACHE and self.cache is not None:
                _, results = await self.cache.optimize(trigger, [action.ref])
                return Applied(_STATUS[results[0].outcome], results[0].detail)
            if action.executor is Executor.SCALING and self.scaler is not None:
                force = trigger is Trigger.FORCED
                done = await asyncio.to_thread(self.scaler.execute, [action.ref], force)
                ok = done[0].status in ("success", "partial")
                return Applied(ActionStatus.APPLIED if ok else ActionStatus.FAILED, done[0].detail)
        except (UnknownDbActions, UnknownCacheActions) as exc:
            return Applied(ActionStatus.SKIPPED, f"no longer planned: {exc}")
        except (psycopg.Error, redis.exceptions.RedisError) as exc:
            return Applied(ActionStatus.FAILED, f"{type(exc).__name__}: {exc}")
        return Applied(ActionStatus.SKIPPED, f"the {action.executor} component is not built")

    async def revert(self, record: ActionRecord, why: str) -> Applied:
        """Undo a regressed index (the only reversible kind): drop it, audit, mark it judged."""
        if not (record.reversible and self.tuner and self.dsn and self.database and self.ledger):
            return Applied(ActionStatus.APPLIED, "not reversible")
        wanted = record.evidence.get("target")
        ledger = await asyncio.to_thread(self.ledger.built)
        target = next(
            (b for b in ledger if f"{b.schema}.{b.table}({b.definition})" == wanted), None
        )
        if target is None:
            return Applied(ActionStatus.APPLIED, "index not found in the ledger")
        cfg = self.database

        def drop() -> db_actions.ChangeResult:
            assert self.dsn is not None
            with db_actions.tuner_session(
                self.dsn, cfg.statement_timeout_ms, cfg.lock_timeout_ms
            ) as conn:
                return db_actions.drop_index(conn, target.schema, target.name)

        try:
            result = await asyncio.to_thread(drop)
        except (psycopg.Error, db_actions.TunerBusy) as exc:
            return Applied(ActionStatus.APPLIED, f"revert failed: {exc}")
        now = self.clock.now()
        await asyncio.to_thread(
            self.ledger.set_verdict, target.schema, target.name, IndexVerdict.NO_EFFECT, now, why
        )
        if self.audit is not None:
            entry = AuditEntry(
                at=now, component="optimizer", action="drop_index",
                target=f"{target.schema}.{target.name}", statement=result.statement,
                reason=f"regressed: {why}", trigger=Trigger.SCHEDULED.value, risk="medium",
                outcome=Outcome.REVERTED if result.outcome is Outcome.APPLIED else result.outcome,
                detail=result.detail,
            )  # fmt: skip
            await asyncio.to_thread(self.audit.record, entry)
        if result.outcome is not Outcome.APPLIED:
            return Applied(ActionStatus.APPLIED, f"revert failed: {result.detail}")
        return Applied(ActionStatus.REVERTED, f"reverted: {result.statement}")
