"""Applies one planned cache action if the risk policy allows it, audits it, and judges TTL
changes once they have settled (hit ratio before and after, from the client counters)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from perfpilot.cache import actions
from perfpilot.cache.client_signal import ClientSignal
from perfpilot.cache.codec import Codec
from perfpilot.cache.keyname import display
from perfpilot.cache.plan import ActionKind, CacheAction
from perfpilot.cache.ports import TtlChange, TtlLedger
from perfpilot.cache.scope import ManagedScope, OutsideScope
from perfpilot.core.audit import AuditEntry, AuditLog, Outcome
from perfpilot.core.clock import Clock
from perfpilot.core.risk import RiskPolicy, Trigger, permits

if TYPE_CHECKING:
    from perfpilot.cache.report import CacheReport

logger = logging.getLogger(__name__)

Figures = dict[str, float | str | None]
# A TTL change is judged on the 5-minute client window that starts this long after it: keys
# set before the change must first expire or be re-set with the new TTL.
SETTLE = timedelta(minutes=10)
PRELOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    action: CacheAction
    outcome: Outcome
    detail: str
    before: Figures = field(default_factory=dict)
    after: Figures = field(default_factory=dict)


class Executor:
    def __init__(
        self,
        scope: ManagedScope,
        clock: Clock,
        audit: AuditLog,
        ledger: TtlLedger,
        policy: RiskPolicy,
        count_own: Callable[[int, int], None],
    ) -> None:
        self._scope = scope
        self._clock = clock
        self._audit = audit
        self._ledger = ledger
        self._policy = policy
        self._count_own = count_own
        self._codec = Codec()

    async def apply(
        self,
        client: aioredis.Redis,
        action: CacheAction,
        trigger: Trigger,
        replica: bool,
        report: CacheReport,
    ) -> ActionOutcome:
        permission = permits(self._policy, action.risk, trigger)
        if not permission.allowed:
            outcome = Outcome.PLANNED if trigger is Trigger.REQUEST else Outcome.SKIPPED
            return ActionOutcome(action, outcome, permission.reason)
        if replica:
            result = ActionOutcome(action, Outcome.SKIPPED, "the server is a read-only replica")
        else:
            try:
                result = await self._run(client, action, report)
            except (aioredis.RedisError, OutsideScope) as exc:
                result = ActionOutcome(action, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        await asyncio.to_thread(self._record, action, trigger, result)
        return result

    async def _run(
        self, client: aioredis.Redis, action: CacheAction, report: CacheReport
    ) -> ActionOutcome:
        if action.kind is ActionKind.TTL_POLICY:
            return await self._ttl_policy(client, action)
        if action.kind is ActionKind.EXPIRE_KEYS:
            changed = await actions.apply_expiries(client, self._scope, action.expiries)
            detail = f"TTL changed on {changed} of {len(action.expiries)} keys"
            return ActionOutcome(action, Outcome.APPLIED, detail, after={"keys_changed": changed})
        if action.kind is ActionKind.COMPRESS_VALUES:
            r = await actions.compress_values(client, self._scope, self._codec, action.keys)
            self._count_own(r.own_hits, r.own_misses)
            ratio = r.bytes_before / r.bytes_after if r.bytes_after else None
            detail = (
                f"rewrote {r.rewritten} values ({r.skipped} skipped): {r.bytes_before} -> "
                f"{r.bytes_after} bytes" + (f", {ratio:.1f}x" if ratio else "")
            )
            return ActionOutcome(
                action, Outcome.APPLIED, detail,
                before={"bytes": r.bytes_before}, after={"bytes": r.bytes_after, "ratio": ratio},
            )  # fmt: skip
        return await self._preload(client, action)

    async def _ttl_policy(self, client: aioredis.Redis, action: CacheAction) -> ActionOutcome:
        decision = action.decision
        if decision is None:
            raise ValueError("a ttl_policy action carries its decision")
        await actions.publish_policy(client, action.namespace, decision.after)
        before_ttl = decision.before.ttl_ms if decision.before else None
        change = TtlChange(
            id=f"{action.id}-{uuid.uuid4().hex[:12]}",
            namespace=display(action.namespace),
            at=self._clock.now(),
            before_ttl_ms=before_ttl,
            after_ttl_ms=decision.after.ttl_ms,
            hit_ratio_before=decision.evidence.hit_ratio,
            lookups_before=decision.evidence.lookups,
            reason=decision.reason,
        )
        await asyncio.to_thread(self._ledger.record_change, change)
        logger.info("cache TTL policy %s: %s", change.namespace, decision.reason)
        return ActionOutcome(
            action, Outcome.APPLIED, decision.reason,
            before={"ttl_ms": before_ttl, "hit_ratio": decision.evidence.hit_ratio},
            after={"ttl_ms": decision.after.ttl_ms, "hit_ratio": None},
        )  # fmt: skip

    async def _preload(self, client: aioredis.Redis, action: CacheAction) -> ActionOutcome:
        request = await actions.request_preload(client, self._scope, action.keys)
        r = await actions.await_preload(client, request, len(action.keys), PRELOAD_TIMEOUT_S)
        self._count_own(r.own_hits, 0)
        warmed = r.outcomes.get("warmed", 0)
        detail = (
            f"{warmed} of {r.requested} keys warmed in {r.duration_s:.2f} s by the application's"
            f" loaders; outcomes {r.outcomes}; {r.pending} unanswered"
        )
        outcome = Outcome.APPLIED if warmed else Outcome.SKIPPED
        return ActionOutcome(
            action, outcome, detail,
            after={"warmed": warmed, "pending": r.pending, "seconds": r.duration_s},
        )  # fmt: skip

    def _record(self, action: CacheAction, trigger: Trigger, result: ActionOutcome) -> None:
        self._audit.record(
            AuditEntry(
                at=self._clock.now(),
                component="cache",
                action=action.kind.value,
                target=action.target,
                statement=action.statement,
                reason=action.reason,
                trigger=trigger.value,
                risk=action.risk.value,
                outcome=result.outcome,
                detail=result.detail,
                before=result.before,
                after=result.after,
            )
        )

    async def judge(self, signal: ClientSignal) -> int:
        """Fill in the after hit ratio of TTL changes older than SETTLE; the number judged."""
        now = self._clock.now()
        by_name = {display(ns): counts for ns, counts in signal.namespaces.items()}
        judged = 0
        for change in await asyncio.to_thread(self._ledger.unjudged):
            if now - change.at < SETTLE:
                continue
            counts = by_name.get(change.namespace)
            lookups = counts.hits + counts.misses if counts else 0
            ratio = counts.hit_ratio if counts else None
            await asyncio.to_thread(self._ledger.set_after, change.id, ratio, lookups, now)
            logger.info(
                "cache TTL change %s on %s: hit ratio %s -> %s",
                change.id, change.namespace, change.hit_ratio_before, ratio,
            )  # fmt: skip
            judged += 1
        return judged
