"""The continuous evaluation: a cycle every ``evaluation_interval_s``, health, the task."""

from __future__ import annotations

import asyncio
import logging

from perfpilot.core.clock import Clock
from perfpilot.core.errors import PerfpilotError
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.scaler import AutoScaler

logger = logging.getLogger(__name__)

NAME = "auto_scaler"


class ScalerLoop:
    """Runs :meth:`AutoScaler.cycle` off the event loop; a failed cycle is reported and the
    next one runs on time."""

    def __init__(self, scaler: AutoScaler, clock: Clock) -> None:
        self._scaler = scaler
        self._clock = clock
        self._health = ComponentHealth(NAME, HealthState.OK, reason="waiting for the first cycle")

    def health(self) -> ComponentHealth:
        if not self._scaler.runtimes():
            return ComponentHealth(
                NAME, HealthState.NOT_CONFIGURED, reason="no [[scaling.services]] configured"
            )
        return self._health

    async def tick(self) -> None:
        now = self._clock.now()
        try:
            executions = await asyncio.to_thread(self._scaler.cycle)
        except (PerfpilotError, BackendError, OSError) as exc:
            logger.warning("scaling cycle failed: %s", exc)
            self._health = ComponentHealth(
                NAME, HealthState.DEGRADED, f"{type(exc).__name__}: {exc}", now
            )
            return
        runtimes = self._scaler.runtimes()
        blind = [r for r in runtimes if r.observed is not None and r.observed.instances is None]
        mode = "executing" if self._scaler.enabled else "recommend only"
        details: dict[str, str | int | float | bool | None] = {
            "mode": mode,
            "services": len(self._scaler.runtimes()),
            "cycles": self._scaler.cycles,
            "executed_last_cycle": len(executions),
        }
        if blind:
            reasons = "; ".join(
                f"{r.config.name}: {r.observed.reason if r.observed else None}" for r in blind
            )
            self._health = ComponentHealth(NAME, HealthState.DEGRADED, reasons, now, details)
        else:
            self._health = ComponentHealth(NAME, HealthState.OK, None, now, details)

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._scaler.config.evaluation_interval_s)

    async def run_scaling_evaluation(self) -> str:
        """The scheduler task ``scaling_evaluation_peak``: one evaluation, recorded."""
        decisions = await asyncio.to_thread(self._scaler.evaluate)
        moves = [
            f"{d.service} {d.current}->{d.desired}" for d in decisions if d.desired != d.current
        ]
        if not decisions:
            return "no services configured for scaling"
        summary = f"{len(decisions)} services evaluated"
        return f"{summary}; proposed: {', '.join(moves)}" if moves else f"{summary}; all hold"
