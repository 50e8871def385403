"""The scheduler's Prometheus families, fed by the engine's run observer."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from perfpilot.scheduler.run import FINAL_STATUSES, RunStatus, TaskRun

# Task runs last from milliseconds (health check) to an hour (database maintenance).
_DURATION_BUCKETS = (0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600)
# Start lateness: target p99 under 100 ms (bench/scheduler_lateness.py).
_LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 60)


class SchedulerMetrics:
    """Counters and histograms on the app's registry; :meth:`observe` takes each final record.

    The counters of ``task_ids`` start at 0 for every final status, so ``increase()`` sees a
    task's first failure or missed run instead of a series born at 1.
    """

    def __init__(self, registry: CollectorRegistry, task_ids: Iterable[str] = ()) -> None:
        self._runs = Counter(
            "perfpilot_scheduler_runs",
            "Scheduler runs by task and final status.",
            ["task", "status"],
            registry=registry,
        )
        self._duration = Histogram(
            "perfpilot_scheduler_run_duration_seconds",
            "Duration of finished runs, all attempts included.",
            ["task"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self._lateness = Histogram(
            "perfpilot_scheduler_start_lateness_seconds",
            "Seconds between a run's fire time and its first attempt.",
            ["task"],
            buckets=_LATENESS_BUCKETS,
            registry=registry,
        )
        self._missed = Counter(
            "perfpilot_scheduler_missed_runs",
            "Fire times seen after the misfire grace time, recorded instead of run.",
            ["task"],
            registry=registry,
        )
        self._skipped = Counter(
            "perfpilot_scheduler_skipped_runs",
            "Fire times not run: another replica or the previous run had the task.",
            ["task"],
            registry=registry,
        )
        for task_id in task_ids:
            for status in sorted(FINAL_STATUSES):
                self._runs.labels(task_id, status.value)
            self._missed.labels(task_id)
            self._skipped.labels(task_id)

    def observe(self, run: TaskRun) -> None:
        self._runs.labels(run.task_id, run.status.value).inc()
        if run.duration_s is not None:
            self._duration.labels(run.task_id).observe(run.duration_s)
        if run.lateness_s is not None and run.trigger.value == "cron":
            self._lateness.labels(run.task_id).observe(max(0.0, run.lateness_s))
        if run.status is RunStatus.MISSED:
            self._missed.labels(run.task_id).inc()
        elif run.status is RunStatus.SKIPPED:
            self._skipped.labels(run.task_id).inc()
