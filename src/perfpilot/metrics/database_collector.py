"""Prometheus families of the target database, read at scrape time from the latest readings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from perfpilot.database.workload_totals import WorkloadTotals


class DatabaseCollector(Collector):
    """Active sessions and statement totals; each family is absent while its reading is unknown
    (database unreachable, pg_stat_statements not installed, no snapshot yet), never 0."""

    def __init__(
        self,
        active_sessions: Callable[[], int | None],
        totals: Callable[[], WorkloadTotals | None],
    ) -> None:
        self._active_sessions = active_sessions
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        active = self._active_sessions()
        if active is not None:
            yield GaugeMetricFamily(
                "perfpilot_database_active_sessions",
                "Client sessions of the target database running a statement (perfpilot's not).",
                value=active,
            )
        totals = self._totals()
        if totals is not None:
            yield from _statement_totals(totals)


def _statement_totals(totals: WorkloadTotals) -> Iterator[Metric]:
    # Summed from the tuner's pg_stat_statements deltas, so they only move once per snapshot
    # interval ([database] snapshot_interval_s) and an eviction or reset is no counter reset.
    yield CounterMetricFamily(
        "perfpilot_database_statement_calls",
        "Top-level statement calls on the target database (perfpilot's own left out).",
        value=totals.calls,
    )
    yield CounterMetricFamily(
        "perfpilot_database_statement_time_seconds",
        "Execution time of those statements.",
        value=totals.total_ms / 1000,
    )
    blocks = CounterMetricFamily(
        "perfpilot_database_shared_blocks",
        "Shared buffer blocks those statements found in the cache (hit) or read.",
        labels=["source"],
    )
    blocks.add_metric(["hit"], totals.shared_blks_hit)
    blocks.add_metric(["read"], totals.shared_blks_read)
    yield blocks
