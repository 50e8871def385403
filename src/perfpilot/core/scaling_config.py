"""``[scaling]`` and ``[appmetrics]``: the Auto Scaler's services, rules and signal sources.

Field names of :class:`ServiceConfig` follow the specification's ``ServiceConfig`` example
(``name``, ``tier``, ``min_instances``, ... ``scale_down_cooldown``); the rest follow the
Kubernetes HPA's behaviour settings
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#configurable-scaling-behavior).
Everything is checked at load time: min above max, negative targets, unknown time zones, cron
expressions that are invalid or never fire.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

METRIC_RULES = ("cpu", "memory", "latency_p95", "rps_per_instance", "queue_length")
SCHEDULE_PREFIX = "schedule:"
# A window's start must fire within this span of any moment; a cron such as "0 0 30 2 *"
# (30 February) parses but never fires and would silently do nothing.
_CRON_MUST_FIRE_WITHIN = timedelta(days=366 * 4 + 1)


class Tier(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_zone(name: str) -> str:
    """``name`` when it is a known IANA zone; ValueError naming it otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def check_firing_cron(expression: str) -> str:
    """The normalized five-field expression; ValueError if invalid or if it never fires."""
    normalized = " ".join(expression.split())
    if len(normalized.split()) != 5 or not croniter.is_valid(normalized):
        raise ValueError(f"invalid cron expression {expression!r}; expected five fields")
    start = datetime(2001, 1, 1, tzinfo=UTC)
    try:
        fire: datetime = croniter(normalized, start).get_next(datetime)
    except (ValueError, KeyError) as exc:  # croniter's CroniterBadDateError is a ValueError
        raise ValueError(f"cron expression {expression!r} never fires") from exc
    if fire - start > _CRON_MUST_FIRE_WITHIN:
        raise ValueError(f"cron expression {expression!r} never fires")
    return normalized


class RuleConfig(_Model):
    """One rule: a metric target (``cpu``, ``memory``, ``latency_p95`` in seconds,
    ``rps_per_instance``, ``queue_length`` per instance) or a ``schedule:<name>`` window.

    A schedule window opens when ``start`` fires and closes when ``end`` fires (KEDA's cron
    scaler), read in ``timezone``; while open, ``min_instances`` raises the floor (peak hours)
    and ``max_instances`` lowers the ceiling (off-peak).
    """

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    target: float | None = Field(default=None, gt=0)
    start: str | None = None
    end: str | None = None
    timezone: str = "UTC"
    min_instances: int | None = Field(default=None, ge=0)
    max_instances: int | None = Field(default=None, ge=1)

    @property
    def is_schedule(self) -> bool:
        return self.name.startswith(SCHEDULE_PREFIX)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("start", "end")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_firing_cron(value)

    @model_validator(mode="after")
    def _shape(self) -> RuleConfig:
        if self.is_schedule:
            self._check_schedule()
        elif self.name not in METRIC_RULES:
            raise ValueError(
                f"unknown rule {self.name!r}; expected one of {', '.join(METRIC_RULES)}"
                f" or {SCHEDULE_PREFIX}<name>"
            )
        elif self.target is None:
            raise ValueError(f"rule {self.name!r} needs a positive target")
        return self

    def _check_schedule(self) -> None:
        if len(self.name) == len(SCHEDULE_PREFIX):
            raise ValueError("a schedule rule needs a name after 'schedule:'")
        if self.start is None or self.end is None:
            raise ValueError(f"rule {self.name!r} needs both start and end cron expressions")
        if self.start == self.end:
            raise ValueError(f"rule {self.name!r}: start and end are the same expression")
        if self.min_instances is None and self.max_instances is None:
            raise ValueError(f"rule {self.name!r} needs min_instances or max_instances")
        if self.target is not None:
            raise ValueError(f"rule {self.name!r}: a schedule has no target")
        low, high = self.min_instances, self.max_instances
        if low is not None and high is not None and low > high:
            raise ValueError(f"rule {self.name!r}: min_instances ({low}) > max_instances ({high})")


class BackendConfig(_Model):
    """How instances are counted and changed."""

    kind: Literal["dry-run", "gunicorn", "kubernetes", "command"] = "dry-run"
    # gunicorn: the master's --pid file.
    pidfile: str | None = None
    # Memory one instance may use, the base of its memory percent (the HPA's "request");
    # default: the host's memory divided by max_instances (each instance's fair share at max).
    memory_limit_bytes: int | None = Field(default=None, gt=0)
    # kubernetes: the scaled object; ``hpa`` moves an existing HPA's min/max instead.
    namespace: str = "default"
    target_kind: Literal["deployment", "statefulset", "hpa"] = "deployment"
    target_name: str | None = None
    kubeconfig: str | None = None
    in_cluster: bool = False
    # command: run with ``{count}`` (and ``{service}``) replaced; observe prints the count.
    command: str | None = None
    observe_command: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _required(self) -> BackendConfig:
        needed = {"gunicorn": "pidfile", "kubernetes": "target_name", "command": "command"}
        field = needed.get(self.kind)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"backend {self.kind!r} needs {field}")
        if self.command is not None and "{count}" not in self.command:
            raise ValueError("backend command must contain {count}")
        return self


class ServiceConfig(_Model):
    """One scaled service: the specification's fields plus HPA-style behaviour."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    tier: Tier = Tier.MEDIUM
    min_instances: int = Field(default=1, ge=1)
    max_instances: int = Field(default=10, ge=1)
    target_cpu_percent: float | None = Field(default=70.0, gt=0, le=100)
    target_memory_percent: float | None = Field(default=80.0, gt=0, le=100)
    # Minimum seconds between two actions in the same direction (a step may be large).
    scale_up_cooldown: float = Field(default=300.0, ge=0)
    scale_down_cooldown: float = Field(default=600.0, ge=0)
    # HPA: no change while |metric / target - 1| <= tolerance (kube-controller-manager 0.1).
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    # HPA defaults: scale-down looks back 300 s, scale-up acts at once.
    scale_up_stabilization_s: float = Field(default=0.0, ge=0, le=3600)
    scale_down_stabilization_s: float = Field(default=300.0, ge=0, le=3600)
    # HPA's default scale-up policy: at most +4 instances or +100 %, the larger; scale-down
    # may remove up to 100 % (bounded by min_instances anyway).
    scale_up_max_step: int = Field(default=4, ge=1)
    scale_up_max_percent: float = Field(default=100.0, gt=0)
    scale_down_max_step: int | None = Field(default=None, ge=1)
    scale_down_max_percent: float = Field(default=100.0, gt=0, le=100)
    # Seconds a new instance needs to serve; the predictive layer scales out this far ahead.
    startup_s: float = Field(default=60.0, ge=0, le=3600)
    predictive: bool = True
    predictive_min_confidence: float = Field(default=0.5, ge=0, le=1)
    # A reading older than this counts as missing.
    stale_after_s: float = Field(default=90.0, gt=0)
    backend: BackendConfig = BackendConfig()
    rules: tuple[RuleConfig, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ServiceConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) > max_instances ({self.max_instances})"
            )
        names = [rule.name for rule in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rules: {duplicates}")
        for fixed, field in (("cpu", "target_cpu_percent"), ("memory", "target_memory_percent")):
            if fixed in names:
                raise ValueError(f"set {field} instead of a {fixed!r} rule")
        return self

    def rule_names(self) -> list[str]:
        """Every rule this service answers to, the fixed cpu/memory targets included."""
        fixed = [("cpu", self.target_cpu_percent), ("memory", self.target_memory_percent)]
        return [n for n, target in fixed if target is not None] + [r.name for r in self.rules]


class ScalingConfig(_Model):
    """``[scaling]``: services and the evaluation loop."""

    evaluation_interval_s: float = Field(default=15.0, ge=1, le=3600)
    # Instances all services may hold together (a host's or namespace's capacity); scale-ups
    # beyond it go to the higher tier first. None: no shared limit.
    capacity_instances: int | None = Field(default=None, ge=1)
    # Decisions kept in memory for /scaling/status and in the store for audit.
    recent_decisions: int = Field(default=50, ge=1, le=1000)
    services: tuple[ServiceConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> ScalingConfig:
        names = [s.name for s in self.services]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate service names in [[scaling.services]]: {duplicates}")
        return self


class AppMetricsConfig(_Model):
    """``[appmetrics]``: where the application's request metrics are read and their names."""

    duration_metric: str = "http_request_duration_seconds"
    requests_metric: str = "http_requests_total"
    endpoint_label: str = "handler"
    method_label: str = "method"
    status_label: str = "status"
    # A gauge giving the work queued (e.g. a task queue's length), for ``queue_length`` rules.
    queue_metric: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    # The window a Prometheus server's rate()/histogram_quantile() look back over.
    range_s: float = Field(default=60.0, ge=15, le=3600)
