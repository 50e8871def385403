"""/api/v1/performance/cache: the Cache Optimizer's report and optimize."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import APIRouter, HTTPException, status

from perfpilot.api.auth import Writer
from perfpilot.api.cache_models import CacheOptimizeOut, CacheOutcomeOut, CacheReportOut
from perfpilot.api.deps import State
from perfpilot.api.optimize_body import OptimizeBody
from perfpilot.api.state import ServiceState
from perfpilot.cache.optimizer import CacheOptimizer, UnknownActions
from perfpilot.core.risk import Trigger

router = APIRouter(prefix="/api/v1/performance/cache", tags=["cache"])


def _optimizer(state: ServiceState) -> CacheOptimizer:
    if state.cache is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the cache optimizer is disabled")
    return state.cache


def _unreachable(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"target Redis unavailable: {exc}")


@router.get("/report", response_model=CacheReportOut)
async def cache_report(state: State) -> CacheReportOut:
    """Namespaces, big/hot/cold keys, server findings, recommendations and the action plan."""
    optimizer = _optimizer(state)
    try:
        report = await optimizer.report()
    except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
        raise _unreachable(exc) from exc
    return CacheReportOut.of(report)


@router.post("/optimize", response_model=CacheOptimizeOut)
async def cache_optimize(state: State, _: Writer, body: OptimizeBody) -> CacheOptimizeOut:
    """Plan (force=false) or apply (force=true, up to medium risk) the optimizer's actions."""
    request = body
    optimizer = _optimizer(state)
    trigger = Trigger.FORCED if request.force else Trigger.REQUEST
    try:
        report, outcomes = await optimizer.optimize(trigger, request.actions)
    except UnknownActions as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
        raise _unreachable(exc) from exc
    return CacheOptimizeOut(
        applied=request.force,
        outcomes=[CacheOutcomeOut.of(o) for o in outcomes],
        report=CacheReportOut.of(report),
    )
