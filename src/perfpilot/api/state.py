"""What the routes read: the components the composition root built, in one typed bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry

from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthSource
from perfpilot.core.settings import Settings
from perfpilot.database.tuner import DatabaseTuner
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.service import ResourceMonitor
from perfpilot.optimizer.benchmark import Benchmark
from perfpilot.optimizer.service import PerformanceOptimizer
from perfpilot.scaling.scaler import AutoScaler
from perfpilot.scheduler.engine import Scheduler
from perfpilot.store import Store

# A later component that is not built yet still shows on /status, with the reason.
HealthProvider = Callable[[], ComponentHealth]


@dataclass
class ServiceState:
    """The running service's components; built once by ``perfpilot.app.build``."""

    settings: Settings
    clock: Clock
    started_at: datetime
    monitor: ResourceMonitor
    alerts: AlertEngine
    store: Store
    registry: CollectorRegistry
    health_sources: list[HealthSource] = field(default_factory=list)
    scheduler: Scheduler | None = None
    tuner: DatabaseTuner | None = None
    cache: CacheOptimizer | None = None
    scaler: AutoScaler | None = None
    optimizer: PerformanceOptimizer | None = None
    benchmark: Benchmark | None = None

    def health(self) -> list[ComponentHealth]:
        """Every component's current health, without I/O."""
        return [source.health() for source in self.health_sources]
