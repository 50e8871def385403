"""The Auto Scaler's decisions, rule overrides and demand minutes on both backends, and the
scaler restoring from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.core.scaling_config import ScalingConfig, ServiceConfig
from perfpilot.scaling.backends.dryrun import DryRunBackend
from perfpilot.scaling.forecast import SeasonalDemand
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.scaler import AutoScaler
from perfpilot.scaling.service import ServiceRuntime
from perfpilot.store import Store, open_store
from perfpilot.store.scaling import ScalingRepository

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path}/p.db"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_dsn")
    )
    opened = open_store(url)
    opened.migrate()
    yield opened
    opened.close()


def test_rows_round_trip(store: Store) -> None:
    repo = ScalingRepository(store.runner)
    repo.save_decision("a", "api", T0, False, '{"n": 1}')
    repo.save_decision("b", "api", T0 + timedelta(seconds=15), False, '{"n": 2}')
    repo.save_decision("a", "api", T0, True, '{"n": 3}')
    assert repo.recent_decisions(10) == ['{"n": 2}', '{"n": 3}']
    repo.save_rule_override("api", "cpu", '{"target": 60}', T0)
    repo.save_rule_override("api", "cpu", '{"target": 55}', T0 + timedelta(minutes=1))
    assert repo.rule_overrides() == [("api", "cpu", '{"target": 55}')]
    repo.save_demand([("api:cpu", T0, 120.5, 4), ("api:cpu", T0 + timedelta(minutes=1), 99.0, 4)])
    rows = repo.load_demand("api:cpu", T0, T0 + timedelta(minutes=1))
    assert rows == [(T0, 120.5, 4)]
    assert repo.prune_demand(T0 + timedelta(minutes=1)) == 1


def _scaler(store: Store, clock: ManualClock) -> AutoScaler:
    service = ServiceConfig(name="api", min_instances=2, max_instances=8)
    repo = ScalingRepository(store.runner)
    parts = ScalerParts(clock=clock, demand=SeasonalDemand(repo), records=repo, overrides=repo)
    runtime = ServiceRuntime(service, DryRunBackend(2))
    scaler = AutoScaler(ScalingConfig(services=(service,)), [runtime], parts, enabled=False)
    scaler.restore()
    return scaler


def test_scaler_restores_overrides_decisions_and_demand(store: Store) -> None:
    clock = ManualClock(T0)
    first = _scaler(store, clock)
    first.update_rule("api", "cpu", {"target": 55})
    first.update_rule("api", "memory", {"enabled": False})
    [decision] = first.evaluate()
    second = _scaler(store, clock)
    config = second.runtimes()[0].config
    assert (config.target_cpu_percent, config.target_memory_percent) == (55, None)
    assert second.recent(1)[0].decision == decision
