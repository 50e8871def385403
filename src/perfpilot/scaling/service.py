"""One scaled service's running state and the readings it is evaluated on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.backends.base import Observed, ScalingBackend
from perfpilot.scaling.model import MetricReading, Recommendation, ScalingDecision

# Recommendations older than the longest stabilization window allowed (1 h) are dropped.
_KEEP = timedelta(hours=1)


class UsageReader(Protocol):
    def read(self, now: datetime) -> list[MetricReading]:
        """Per-instance ``cpu`` and ``memory`` of the service's own instances."""
        ...


@dataclass
class ServiceRuntime:
    """Mutable state of one service; guarded by the scaler's lock."""

    config: ServiceConfig
    backend: ScalingBackend
    usage: UsageReader | None = None
    recommendations: deque[Recommendation] = field(default_factory=deque)
    last_scale_up_at: datetime | None = None
    last_scale_down_at: datetime | None = None
    observed: Observed | None = None
    # The last order given, used only when the backend cannot observe (and said so).
    ordered: int | None = None
    decision: ScalingDecision | None = None
    open_alert: str | None = None

    def remember(self, recommendation: Recommendation) -> None:
        self.recommendations.append(recommendation)
        while self.recommendations and self.recommendations[0].at < recommendation.at - _KEEP:
            self.recommendations.popleft()

    def current(self) -> tuple[int | None, str | None]:
        """The count to decide from: observed, else the last order (said so), else unknown."""
        observed = self.observed
        if observed is not None and observed.instances is not None:
            return observed.instances, None
        why = observed.reason if observed is not None else "not observed yet"
        if self.ordered is not None:
            return self.ordered, f"count not observable ({why}); using the last order"
        return None, why
