"""``perfpilot_component_up``: the components /readyz reports, as a 1/0 gauge each."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from perfpilot.core.health import ComponentHealth, HealthState

# Degraded counts as up: the component runs and serves, with a reason on /readyz (a stale
# sample, a failed round that is retried). Only unavailable is down, as /readyz's 503 is.
_UP = {HealthState.OK: 1, HealthState.DEGRADED: 1, HealthState.UNAVAILABLE: 0}


class ComponentCollector(Collector):
    """One sample per component meant to run. Disabled and not-configured components have no
    sample, nor has a component not checked yet (unavailable without ``checked_at``, such as a
    connection watch before its first check): unknown is not down."""

    def __init__(self, read_health: Callable[[], list[ComponentHealth]]) -> None:
        self._read_health = read_health

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "perfpilot_component_up",
            "1 while a component is ok or degraded, 0 while unavailable (GET /readyz says why).",
            labels=["component"],
        )
        for health in self._read_health():
            value = component_up(health)
            if value is not None:
                up.add_metric([health.name], value)
        yield up


def component_up(health: ComponentHealth) -> int | None:
    """1 up, 0 down, None when the component does not run or was not checked yet."""
    if health.state is HealthState.UNAVAILABLE and health.checked_at is None:
        return None
    return _UP.get(health.state)
