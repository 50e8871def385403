"""/metrics of the real app: database figures, component health and counters that start at 0."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.ports import free_port
from tests.test_app import clock, service_factory, state_of, wait_until  # noqa: F401

from perfpilot.core.clock import ManualClock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.metrics.component_collector import component_up
from perfpilot.optimizer.model import OptimizationType
from perfpilot.optimizer.records import ActionStatus
from perfpilot.scheduler.catalog import BUILTIN_TASKS
from perfpilot.scheduler.run import FINAL_STATUSES

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# pg_stat_activity's view of a session other than the asking one running a statement.
OTHER_ACTIVE = """SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
  AND query LIKE 'SELECT pg_sleep%'"""


def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def named(samples: Samples, name: str) -> list[float]:
    return [v for (n, _), v in samples.items() if n == name]


@pytest.fixture
def sleeping_session(pg_dsn: str) -> Iterator[None]:
    """A client session of the test database running pg_sleep until the test ends."""
    conn = psycopg.connect(pg_dsn, autocommit=True)

    def sleep() -> None:
        # Cancelled by the teardown below.
        with contextlib.suppress(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(60)")

    thread = threading.Thread(target=sleep)
    thread.start()
    with psycopg.connect(pg_dsn, autocommit=True) as probe:

        def sleeping() -> bool:
            row = probe.execute(OTHER_ACTIVE).fetchone()
            return row is not None and row[0] == 1

        wait_until(sleeping)
    yield
    conn.cancel()
    thread.join(10)
    conn.close()


def test_database_sessions_components_and_statement_totals_are_exported(
    service_factory: Callable[..., TestClient],  # noqa: F811
    clock: ManualClock,  # noqa: F811
    pg_dsn: str,
    sleeping_session: None,
) -> None:
    client = service_factory()
    state = state_of(client)
    tuner = state.tuner
    assert tuner is not None
    wait_until(lambda: all(s.health().reason != "not checked yet" for s in state.health_sources))
    # The tuner loop takes its baseline snapshot at start, then waits snapshot_interval_s.
    wait_until(lambda: tuner.workload_totals is not None)
    wait_until(lambda: value(scrape(client), "perfpilot_database_active_sessions") is not None)

    before = scrape(client)
    # The activity loop read once at start, while the pg_sleep session was running.
    active = value(before, "perfpilot_database_active_sessions")
    assert active is not None
    assert active >= 1
    for component in ("database", "cache", "store", "database_tuner", "monitor"):
        assert value(before, "perfpilot_component_up", component=component) == 1, component
    assert value(before, "perfpilot_database_statement_calls_total") == 0
    assert value(before, "perfpilot_database_statement_time_seconds_total") == 0
    assert value(before, "perfpilot_database_shared_blocks_total", source="hit") == 0

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE visits AS SELECT g AS id FROM generate_series(1, 5000) g")
        for i in range(5):
            conn.execute("SELECT count(*) FROM visits WHERE id > %s", (i,))
    clock.advance(60)
    assert tuner.record_workload() is True

    after = scrape(client)
    totals = tuner.workload_totals
    assert totals is not None
    calls = value(after, "perfpilot_database_statement_calls_total")
    assert calls == totals.calls
    assert calls is not None
    assert calls >= 5  # the five counts at least (utility statements may not be tracked)
    seconds = value(after, "perfpilot_database_statement_time_seconds_total")
    assert seconds == pytest.approx(totals.total_ms / 1000)
    assert seconds is not None
    assert seconds > 0
    hit = value(after, "perfpilot_database_shared_blocks_total", source="hit")
    read = value(after, "perfpilot_database_shared_blocks_total", source="read")
    assert (hit, read) == (totals.shared_blks_hit, totals.shared_blks_read)
    assert hit is not None
    assert read is not None
    assert hit + read > 0  # five scans of a 5,000-row table touch its blocks


def test_an_unreachable_database_is_down_and_its_figures_are_absent(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    dead = free_port()
    client = service_factory(
        {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead}/postgres",
            "PERFORMANCE_MONITORING_ENABLED": "false",
        }
    )
    state = state_of(client)
    wait_until(lambda: all(s.health().reason != "not checked yet" for s in state.health_sources))
    samples = scrape(client)
    assert value(samples, "perfpilot_component_up", component="database") == 0
    assert value(samples, "perfpilot_component_up", component="cache") == 1
    assert value(samples, "perfpilot_component_up", component="store") == 1
    # Disabled: no series rather than 0.
    assert value(samples, "perfpilot_component_up", component="monitor") is None
    # Unknown, not zero.
    assert named(samples, "perfpilot_database_active_sessions") == []
    assert named(samples, "perfpilot_database_statement_calls_total") == []
    assert named(samples, "perfpilot_database_shared_blocks_total") == []


def test_component_up_maps_readiness_states() -> None:
    def up(state: HealthState, checked: bool = True) -> int | None:
        at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC) if checked else None
        return component_up(ComponentHealth("database", state, "why", at))

    assert up(HealthState.OK) == 1
    assert up(HealthState.DEGRADED) == 1
    assert up(HealthState.UNAVAILABLE) == 0
    assert up(HealthState.UNAVAILABLE, checked=False) is None
    assert up(HealthState.DISABLED) is None
    assert up(HealthState.NOT_CONFIGURED) is None


def test_labelled_counters_exist_at_zero_before_their_first_event(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    samples = scrape(service_factory())
    for kind in OptimizationType:
        for status in ActionStatus:
            labels = {"type": kind.value, "status": status.value}
            assert value(samples, "perfpilot_optimization_actions_total", **labels) == 0, labels
    for task in BUILTIN_TASKS:
        for final in FINAL_STATUSES:
            labels = {"task": task.id, "status": final.value}
            assert value(samples, "perfpilot_scheduler_runs_total", **labels) == 0, labels
        assert value(samples, "perfpilot_scheduler_missed_runs_total", task=task.id) == 0
        assert value(samples, "perfpilot_scheduler_skipped_runs_total", task=task.id) == 0
