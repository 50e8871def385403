"""Keeps watching an outside dependency: checks it, reports why it is down, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from perfpilot.core.backoff import Backoff
from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str]]


class ConnectionWatch:
    """Runs ``check`` (which returns a short description such as the server version) until
    stopped: every ``ok_interval_s`` while it succeeds, with exponential backoff while it fails."""

    def __init__(
        self,
        name: str,
        target: str,
        check: Check,
        clock: Clock,
        backoff: Backoff | None = None,
        ok_interval_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self._target = target
        self._check = check
        self._clock = clock
        self._backoff = backoff or Backoff(base_s=1.0, cap_s=60.0)
        self._ok_interval_s = ok_interval_s
        self._timeout_s = timeout_s
        self._failures = 0
        self._health = ComponentHealth(
            name, HealthState.UNAVAILABLE, reason="not checked yet", details={"target": target}
        )

    def health(self) -> ComponentHealth:
        return self._health

    @property
    def available(self) -> bool:
        return self._health.state is HealthState.OK

    async def check_once(self) -> ComponentHealth:
        """Run the check now and record the result."""
        now = self._clock.now()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races with completion, and a watch loop must stop when the app stops.
            async with asyncio.timeout(self._timeout_s):
                description = await self._check()
        except TimeoutError:
            return self._failed(now, f"no answer within {self._timeout_s:.0f}s")
        except Exception as exc:  # noqa: BLE001 - drivers raise their own hierarchies; any is reported
            return self._failed(now, f"{type(exc).__name__}: {exc}")
        if self._failures:
            logger.info("%s reachable again after %d failed checks", self.name, self._failures)
        self._failures = 0
        self._health = ComponentHealth(
            self.name,
            HealthState.OK,
            checked_at=now,
            details={"target": self._target, "server": description},
        )
        return self._health

    def _failed(self, now: datetime, reason: str) -> ComponentHealth:
        self._failures += 1
        logger.warning("%s unavailable (%s): %s", self.name, self._target, reason)
        self._health = ComponentHealth(
            self.name,
            HealthState.UNAVAILABLE,
            reason=reason,
            checked_at=now,
            details={"target": self._target, "consecutive_failures": self._failures},
        )
        return self._health

    def next_delay_s(self) -> float:
        """Seconds until the next check: steady while healthy, backing off while failing."""
        if self._failures == 0:
            return self._ok_interval_s
        return self._backoff.delay(self._failures - 1)

    async def run(self) -> None:
        """Check forever; cancelled by the app's lifespan on shutdown."""
        while True:
            await self.check_once()
            await asyncio.sleep(self.next_delay_s())
