"""/api/v1/performance/scheduler: the Performance Scheduler's tasks and runs."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from perfpilot.api.auth import Writer
from perfpilot.api.deps import State
from perfpilot.api.scheduler_models import (
    QuietHoursOut,
    RunOut,
    RunsOut,
    RunTicketOut,
    TaskOut,
    TasksOut,
    TaskUpdateIn,
)
from perfpilot.api.state import ServiceState
from perfpilot.core.errors import ConflictError, NotFoundError
from perfpilot.maintenance.quiet import QuietHours
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.status import task_view, task_views
from perfpilot.scheduler.task import TaskOverride
from perfpilot.scheduler.trigger import ScheduleError
from perfpilot.scheduler.zone import default_zone

router = APIRouter(prefix="/api/v1/performance/scheduler", tags=["scheduler"])


def _scheduler(state: ServiceState) -> Scheduler:
    if state.scheduler is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "scheduler is not built")
    return state.scheduler


def _task_or_404(scheduler: Scheduler, task_id: str) -> None:
    try:
        scheduler.task(task_id)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.get("/tasks", response_model=TasksOut)
async def list_tasks(state: State) -> TasksOut:
    """Every task, built-in and configured, with its state and next fire time."""
    scheduler = _scheduler(state)
    views = task_views(scheduler, state.clock.now())
    return TasksOut(
        cron_enabled=scheduler.config.cron_enabled,
        max_concurrent_runs=scheduler.config.max_concurrent,
        count=len(views),
        tasks=[TaskOut.of(view) for view in views],
    )


@router.get("/tasks/{task_id}/runs", response_model=RunsOut)
async def list_runs(
    task_id: str, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> RunsOut:
    """The task's runs, newest first (skipped and missed fire times included)."""
    scheduler = _scheduler(state)
    _task_or_404(scheduler, task_id)
    runs = await asyncio.to_thread(scheduler.history.list_runs, task_id, limit)
    return RunsOut(task_id=task_id, count=len(runs), runs=[RunOut.of(r) for r in runs])


@router.post(
    "/tasks/{task_id}/run", response_model=RunTicketOut, status_code=status.HTTP_202_ACCEPTED
)
async def run_task(task_id: str, state: State, _: Writer) -> RunTicketOut:
    """Run the task now (also when it is disabled on cron); 409 while a run of it is active."""
    scheduler = _scheduler(state)
    try:
        ticket = await scheduler.run_now(task_id)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return RunTicketOut(
        task_id=ticket.task_id,
        started=ticket.started,
        waiting=ticket.waiting,
        run=RunOut.of(ticket.run),
    )


@router.put("/tasks/{task_id}", response_model=TaskOut)
async def update_task(task_id: str, body: TaskUpdateIn, state: State, _: Writer) -> TaskOut:
    """Enable, disable or reschedule a task; stored, so every replica and a restart keep it."""
    scheduler = _scheduler(state)
    change = TaskOverride(task_id, body.enabled, body.cron_expression, body.timezone)
    try:
        task = await scheduler.update_task(change)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ScheduleError as exc:
        # The body validators check cron and zone alone; this catches the combination.
        detail = [{"loc": ["body", exc.field], "msg": exc.detail, "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
    return TaskOut.of(task_view(scheduler, task, state.clock.now()))


@router.get("/quiet-hours", response_model=QuietHoursOut)
def quiet_hours(state: State) -> QuietHoursOut:
    """The quietest daily window from CPU rollups (median per hour of the week)."""
    cfg = state.settings.file.scheduler
    quiet = QuietHours(
        state.store,
        default_zone(state.settings.timezone),
        cfg.quiet_window_hours,
        cfg.quiet_window_start_hour,
        state.clock,
    )
    return QuietHoursOut.model_validate(quiet.window())
