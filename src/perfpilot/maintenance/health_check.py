"""``run_comprehensive_health_check``: every component's health; an alert per unhealthy one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.model import AlertKind, Severity

HealthReader = Callable[[], list[ComponentHealth]]

# Unavailable means a dependency is down (warning); degraded means it works with a gap (info).
_SEVERITY = {HealthState.UNAVAILABLE: Severity.WARNING, HealthState.DEGRADED: Severity.INFO}
# Components not meant to run are neither healthy nor unhealthy: their alerts stay as they are.
_IGNORED = (HealthState.DISABLED, HealthState.NOT_CONFIGURED)


class HealthCheck:
    """Raises a HEALTH alert for each unhealthy component and resolves it once it recovers."""

    def __init__(self, read_health: HealthReader, alerts: AlertEngine, clock: Clock) -> None:
        self._read_health = read_health
        self._alerts = alerts
        self._clock = clock

    async def run(self) -> str:
        # Alerts are written through to the store: blocking I/O, so off the event loop.
        return await asyncio.to_thread(self._check)

    def _check(self) -> str:
        now = self._clock.now()
        components = self._read_health()
        unhealthy: list[str] = []
        for component in components:
            severity = _SEVERITY.get(component.state)
            if severity is not None:
                message = f"{component.name} is {component.state.value}: {component.reason}"
                self._alerts.raise_event(AlertKind.HEALTH, component.name, severity, message, now)
                unhealthy.append(f"{component.name} {component.state.value}")
            elif component.state not in _IGNORED:
                self._alerts.clear_event(AlertKind.HEALTH, component.name, now)
        checked = len(components)
        if not unhealthy:
            return f"{checked} components checked, all healthy"
        return f"{checked} components checked; unhealthy: {', '.join(unhealthy)}"
