"""/api/v1/performance/database: the Database Tuner's report and optimize."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter, HTTPException, status

from perfpilot.api.auth import Writer
from perfpilot.api.database_models import DatabaseOptimizeOut, DatabaseReportOut, OutcomeOut
from perfpilot.api.deps import State
from perfpilot.api.optimize_body import OptimizeBody
from perfpilot.api.state import ServiceState
from perfpilot.core.risk import Trigger
from perfpilot.database.tuner import DatabaseTuner, UnknownActions

router = APIRouter(prefix="/api/v1/performance/database", tags=["database"])


def _tuner(state: ServiceState) -> DatabaseTuner:
    if state.tuner is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the database tuner is disabled")
    return state.tuner


def _unreachable(exc: psycopg.Error) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, f"target database unavailable: {exc}".strip()
    )


@router.get("/report", response_model=DatabaseReportOut)
async def database_report(state: State) -> DatabaseReportOut:
    """Workload, health checks, index and configuration advice, and the action plan."""
    tuner = _tuner(state)
    try:
        report = await asyncio.to_thread(tuner.report)
    except psycopg.OperationalError as exc:
        raise _unreachable(exc) from exc
    return DatabaseReportOut.of(report)


@router.post("/optimize", response_model=DatabaseOptimizeOut)
async def database_optimize(state: State, _: Writer, body: OptimizeBody) -> DatabaseOptimizeOut:
    """Plan (force=false) or apply (force=true, up to medium risk) the tuner's actions."""
    request = body
    tuner = _tuner(state)
    trigger = Trigger.FORCED if request.force else Trigger.REQUEST
    try:
        report, outcomes = await asyncio.to_thread(tuner.optimize, trigger, request.actions)
    except UnknownActions as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except psycopg.OperationalError as exc:
        raise _unreachable(exc) from exc
    return DatabaseOptimizeOut(
        applied=request.force,
        outcomes=[OutcomeOut.of(o) for o in outcomes],
        report=DatabaseReportOut.of(report),
    )
