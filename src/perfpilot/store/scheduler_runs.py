"""The scheduler's run history and task overrides (``scheduler.ports.RunHistory``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.task import TaskOverride
from perfpilot.store.base import check_limit
from perfpilot.store.sqlrunner import Row, SqlRunner

_RUN_COLUMNS = (
    "id, task_id, trigger, scheduled_for, status, runner, started_at, finished_at,"
    " attempts, error, summary"
)
_RUN_UPDATE = ", ".join(
    f"{c} = excluded.{c}" for c in (n.strip() for n in _RUN_COLUMNS.split(",")) if c != "id"
)
_UPSERT_RUN = f"""
    INSERT INTO {{t}}scheduler_runs ({_RUN_COLUMNS})
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET {_RUN_UPDATE}
"""
_LAST_SCHEDULED = """
    SELECT task_id, MAX(scheduled_for) FROM {t}scheduler_runs
    WHERE trigger = %s GROUP BY task_id
"""
# Skipped records do not take a slot: they only say another replica had the task.
_SLOT_TAKEN = """
    SELECT 1 FROM {t}scheduler_runs
    WHERE task_id = %s AND scheduled_for = %s AND trigger = %s AND status <> %s LIMIT 1
"""
_PRUNE = "DELETE FROM {t}scheduler_runs WHERE scheduled_for < %s AND status <> %s"
_UPSERT_OVERRIDE = """
    INSERT INTO {t}scheduler_task_overrides
        (task_id, enabled, cron_expression, timezone, updated_at)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (task_id) DO UPDATE SET enabled = excluded.enabled,
        cron_expression = excluded.cron_expression, timezone = excluded.timezone,
        updated_at = excluded.updated_at
"""
_OVERRIDES = """
    SELECT task_id, enabled, cron_expression, timezone FROM {t}scheduler_task_overrides
    ORDER BY task_id
"""


class SqlRunHistory:
    """Run records and API overrides in the ``scheduler_runs`` and
    ``scheduler_task_overrides`` tables (migration 4)."""

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner
        self._encode = runner.dialect.encode_time
        self._decode = runner.dialect.decode_time

    def save_run(self, run: TaskRun) -> None:
        self._runner.write("save scheduler run", _UPSERT_RUN, [self._run_params(run)])

    def list_runs(self, task_id: str | None = None, limit: int = 100) -> list[TaskRun]:
        check_limit(limit)
        where, params = ("WHERE task_id = %s", [task_id]) if task_id is not None else ("", [])
        template = (
            f"SELECT {_RUN_COLUMNS} FROM {{t}}scheduler_runs {where}"
            " ORDER BY scheduled_for DESC, id DESC LIMIT %s"
        )
        rows = self._runner.query("list scheduler runs", template, [*params, limit])
        return [self._run_from_row(row) for row in rows]

    def last_scheduled(self) -> dict[str, datetime]:
        rows = self._runner.query("read last fire times", _LAST_SCHEDULED, [RunTrigger.CRON.value])
        return {task_id: self._decode(at) for task_id, at in rows}

    def slot_taken(self, task_id: str, scheduled_for: datetime) -> bool:
        params = [task_id, self._encode(scheduled_for), RunTrigger.CRON.value, "skipped"]
        return bool(self._runner.query("check scheduler slot", _SLOT_TAKEN, params))

    def prune_runs(self, before: datetime) -> int:
        params = [self._encode(before), RunStatus.RUNNING.value]
        return self._runner.write("prune scheduler runs", _PRUNE, [params])

    def save_override(self, override: TaskOverride, now: datetime) -> None:
        o = override
        params = [o.task_id, o.enabled, o.cron_expression, o.timezone, self._encode(now)]
        self._runner.write("save task override", _UPSERT_OVERRIDE, [params])

    def load_overrides(self) -> list[TaskOverride]:
        rows = self._runner.query("load task overrides", _OVERRIDES)
        return [
            TaskOverride(task_id, None if enabled is None else bool(enabled), cron, zone)
            for task_id, enabled, cron, zone in rows
        ]

    def _run_params(self, run: TaskRun) -> list[Any]:
        encode = self._encode
        return [
            run.id,
            run.task_id,
            run.trigger.value,
            encode(run.scheduled_for),
            run.status.value,
            run.runner,
            None if run.started_at is None else encode(run.started_at),
            None if run.finished_at is None else encode(run.finished_at),
            run.attempts,
            run.error,
            run.summary,
        ]

    def _run_from_row(self, row: Row) -> TaskRun:
        time_or_none = self._runner.dialect.time_or_none
        return TaskRun(
            id=row[0],
            task_id=row[1],
            trigger=RunTrigger(row[2]),
            scheduled_for=self._decode(row[3]),
            status=RunStatus(row[4]),
            runner=row[5],
            started_at=time_or_none(row[6]),
            finished_at=time_or_none(row[7]),
            attempts=int(row[8]),
            error=row[9],
            summary=row[10],
        )
