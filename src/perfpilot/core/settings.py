"""The one settings model: environment variables from the specification plus a TOML file.

Flat switches and URLs come from the environment (the specification's names, e.g.
``PERFORMANCE_MONITORING_ENABLED``); structured parts (alert rules, monitor and forecast
tuning, later services and tasks) come from the optional TOML file named by
``PERFORMANCE_CONFIG_FILE``. A bad value raises :class:`ConfigError` naming the variable (or
the file key) and the value, so ``perfpilot serve`` can exit with code 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from perfpilot.core.errors import ConfigError
from perfpilot.core.scaling_config import AppMetricsConfig, ScalingConfig

Percent = Annotated[float, Field(gt=0, le=100)]


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class _FileModel(BaseModel):
    """Config-file sections reject unknown keys: a typo must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertLevels(_FileModel):
    """Warning and critical levels of one resource, in percent."""

    warning: Percent
    critical: Percent
    # Seconds the value must stay above a level before the alert fires (Prometheus' `for`).
    for_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _warning_below_critical(self) -> AlertLevels:
        if self.warning >= self.critical:
            raise ValueError(f"warning ({self.warning}) must be below critical ({self.critical})")
        return self


class AlertsConfig(_FileModel):
    """`[alerts]`: the specification's levels (CPU 80/90, memory 85/95) and disk 85/95."""

    cpu: AlertLevels = AlertLevels(warning=80, critical=90)
    memory: AlertLevels = AlertLevels(warning=85, critical=95)
    disk: AlertLevels = AlertLevels(warning=85, critical=95)
    swap: AlertLevels = AlertLevels(warning=80, critical=95)
    # The specification's `alert_cooldown`: no repeat of the same alert within this time.
    alert_cooldown_s: float = Field(default=300.0, ge=0)
    # A firing alert resolves only once the value is this many points below its level,
    # so a value hovering at the threshold does not flap.
    hysteresis_percent: float = Field(default=5.0, ge=0, le=50)


class MonitorConfig(_FileModel):
    """`[monitor]`: sampling and history."""

    interval_s: float = Field(default=5.0, ge=0.2, le=3600)
    history_hours: float = Field(default=24.0, gt=0, le=168)
    rollup_retention_days: int = Field(default=30, ge=1, le=3650)
    # Mounts to watch; empty means every real (non-pseudo) filesystem psutil reports.
    disk_mounts: tuple[str, ...] = ()
    # Where cgroup v2 is mounted; a constructor parameter so tests pass real files.
    cgroup_root: str = "/sys/fs/cgroup"


class ForecastConfig(_FileModel):
    """`[forecast]`: trend and seasonal models behind predictive alerts."""

    horizon_min: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    trend_window_min: float = Field(default=60.0, ge=5, le=24 * 60)
    min_r2: float = Field(default=0.8, ge=0, le=1)
    min_points: int = Field(default=20, ge=3)
    seasonal_refit_min: float = Field(default=60.0, ge=1)


class OptimizationThresholds(_FileModel):
    """`[thresholds]`: the Performance Optimizer's thresholds beyond the env-set ones."""

    db_connections: int = Field(default=100, ge=1)
    cache_hit_rate: float = Field(default=0.7, ge=0, le=1)
    api_response_time: float = Field(default=1000.0, gt=0)


class OptimizerConfig(_FileModel):
    """`[optimizer]`: the Performance Optimizer's settle period and benchmark rate limit."""

    # How long an applied optimization works before it is measured again and judged: long enough
    # for a few hundred calls of the statements (or lookups) it was for on a busy service.
    settle_minutes: float = Field(default=15.0, gt=0)
    # GET /benchmark runs at most once per this many seconds (it loads the targets).
    benchmark_min_interval_s: float = Field(default=30.0, ge=0)


class DatabaseConfig(_FileModel):
    """`[database]`: the Database Tuner's scope, budgets and safety switches."""

    # Schemas the tuner may read and change; empty means every non-system schema.
    schemas: tuple[str, ...] = ()
    # Bound on every analysis query perfpilot sends to the target database.
    statement_timeout_ms: int = Field(default=30_000, ge=100)
    # Bound on waiting for a lock before a change gives up (CREATE INDEX CONCURRENTLY, VACUUM).
    lock_timeout_ms: int = Field(default=2_000, ge=10)
    # Bound on one index build.
    index_build_timeout_ms: int = Field(default=3_600_000, ge=1_000)
    index_size_budget_mb: float = Field(default=1024.0, gt=0)
    max_new_indexes_per_table: int = Field(default=2, ge=1, le=10)
    # Tables smaller than this are scanned faster than an index would be maintained.
    min_table_rows: int = Field(default=10_000, ge=0)
    # Time a new index gets before it is judged on the queries it was built for.
    settle_minutes: float = Field(default=60.0, gt=0)
    snapshot_interval_s: float = Field(default=300.0, ge=10)
    slow_query_mean_ms: float = Field(default=20.0, gt=0)
    slow_query_calls: int = Field(default=100, ge=1)
    # High risk (DESIGN.md): ALTER SYSTEM needs this explicit opt-in.
    allow_alter_system: bool = False
    db_type: Literal["web", "oltp", "dw", "desktop", "mixed"] = "web"
    storage: Literal["ssd", "hdd", "san", "nvme"] = "ssd"
    # The database host's size when it is not this host (PGTune inputs).
    host_memory_bytes: int | None = Field(default=None, gt=0)
    host_cpus: int | None = Field(default=None, gt=0)


class TaskConfig(_FileModel):
    """One ``[[scheduler.tasks]]`` entry: changes a built-in task (same ``id``) or adds one.

    Unset fields keep the built-in value; a new task needs ``cron_expression`` and
    ``function_name``. Cron expressions and zones are checked when the scheduler is built.
    """

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str | None = None
    cron_expression: str | None = None
    function_name: str | None = None
    enabled: bool | None = None
    max_duration_seconds: float | None = Field(default=None, gt=0)
    retry_count: int | None = Field(default=None, ge=0, le=10)
    retry_delay_seconds: float | None = Field(default=None, ge=0)
    timezone: str | None = None
    deferrable: bool | None = None
    heavy_db: bool | None = None


class SchedulerConfig(_FileModel):
    """``[scheduler]``: limits, misfire policy, history retention, best hours and tasks."""

    max_concurrent_runs: int = Field(default=3, ge=1, le=64)
    # A fire time seen later than this (downtime, a blocked loop) is recorded as missed; half
    # the shortest built-in period (10 min), so a late run never overlaps the next one.
    misfire_grace_s: float = Field(default=300.0, ge=0)
    history_retention_days: int = Field(default=30, ge=1, le=3650)
    # The audit trail is kept longer than run records: it answers "what changed and why".
    audit_retention_days: int = Field(default=365, ge=1, le=3650)
    # Deferrable tasks wait at most this long for the host to drop below the CPU threshold.
    max_defer_minutes: float = Field(default=120.0, ge=0)
    # Quiet window reported (as ``default``) until 7 days of rollups give measured hours.
    quiet_window_start_hour: int = Field(default=1, ge=0, le=23)
    quiet_window_hours: int = Field(default=4, ge=1, le=24)
    # Deferrable tasks also wait while the target database runs more active sessions.
    busy_db_active_sessions: int = Field(default=10, ge=1)
    # Each running run checks its run lock this often; a lost lock (its PostgreSQL session
    # dropped, so another replica may take the task) cancels the run. Bounds that overlap.
    lease_check_interval_s: float = Field(default=15.0, gt=0)
    tasks: tuple[TaskConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_task_ids(self) -> SchedulerConfig:
        ids = [task.id for task in self.tasks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate task ids in [[scheduler.tasks]]: {duplicates}")
        return self


class CacheConfig(_FileModel):
    """`[cache]`: the Cache Optimizer's namespaces, sweep budgets, TTL bounds and compression."""

    # Namespaces are the first `namespace_depth` parts of a key split on `delimiter`.
    delimiter: str = Field(default=":", min_length=1, max_length=4)
    namespace_depth: int = Field(default=1, ge=1, le=5)
    # Sweep budgets per run: keys, wall time, and the Redis CPU share it may cause.
    sweep_max_keys: int = Field(default=200_000, ge=100)
    sweep_time_budget_s: float = Field(default=10.0, gt=0, le=600)
    sweep_cpu_share: float = Field(default=0.5, gt=0, le=1)
    scan_count: int = Field(default=1000, ge=10, le=100_000)
    memory_samples: int = Field(default=5, ge=0, le=64)
    big_key_bytes: int = Field(default=1 << 20, ge=1024)
    # Adaptive TTL: the measured hit ratio each managed namespace is steered toward, within bounds.
    target_hit_ratio: float = Field(default=0.9, gt=0, lt=1)
    ttl_min_s: float = Field(default=60.0, gt=0)
    ttl_max_s: float = Field(default=86_400.0, gt=0)
    default_ttl_s: float = Field(default=3600.0, gt=0)
    # Keys idle (LRU) this long, or with an LFU counter at or below `cold_freq`, are cold.
    cold_idle_s: float = Field(default=3600.0, gt=0)
    cold_freq: int = Field(default=0, ge=0, le=255)
    # Namespaces read only through perfpilot.cache.client, whose values may be rewritten
    # compressed; values from `compress_min_bytes`.
    compress_namespaces: tuple[str, ...] = ()
    compress_min_bytes: int = Field(default=4096, ge=64)
    # Bounded work per run: keys changed by TTL and compression actions, keys asked to preload.
    max_writes_per_run: int = Field(default=1000, ge=1)
    max_preload_keys: int = Field(default=200, ge=1)
    interval_s: float = Field(default=60.0, ge=5)

    @model_validator(mode="after")
    def _ttl_bounds(self) -> CacheConfig:
        if self.ttl_min_s > self.ttl_max_s:
            raise ValueError(f"ttl_min_s ({self.ttl_min_s}) exceeds ttl_max_s ({self.ttl_max_s})")
        return self


class FileConfig(_FileModel):
    """The whole TOML file."""

    monitor: MonitorConfig = MonitorConfig()
    database: DatabaseConfig = DatabaseConfig()
    alerts: AlertsConfig = AlertsConfig()
    forecast: ForecastConfig = ForecastConfig()
    thresholds: OptimizationThresholds = OptimizationThresholds()
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    cache: CacheConfig = CacheConfig()
    scaling: ScalingConfig = ScalingConfig()
    appmetrics: AppMetricsConfig = AppMetricsConfig()


class Settings(BaseSettings):
    """Everything perfpilot is configured with. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, case_sensitive=True
    )

    monitoring_enabled: bool = Field(True, validation_alias="PERFORMANCE_MONITORING_ENABLED")
    auto_optimize: bool = Field(False, validation_alias="PERFORMANCE_AUTO_OPTIMIZE")
    auto_optimize_max_risk: RiskLevel = Field(
        RiskLevel.LOW, validation_alias="PERFORMANCE_AUTO_OPTIMIZE_MAX_RISK"
    )
    scheduler_enabled: bool = Field(True, validation_alias="PERFORMANCE_SCHEDULER_ENABLED")
    auto_scaling_enabled: bool = Field(False, validation_alias="AUTO_SCALING_ENABLED")
    cpu_threshold: Percent = Field(75.0, validation_alias="PERFORMANCE_CPU_THRESHOLD")
    memory_threshold: Percent = Field(80.0, validation_alias="PERFORMANCE_MEMORY_THRESHOLD")
    disk_threshold: Percent = Field(85.0, validation_alias="PERFORMANCE_DISK_THRESHOLD")

    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    store_url: str = Field("sqlite:///perfpilot.db", validation_alias="PERFORMANCE_STORE_URL")
    api_token: SecretStr | None = Field(None, validation_alias="PERFORMANCE_API_TOKEN")
    config_file: Path | None = Field(None, validation_alias="PERFORMANCE_CONFIG_FILE")
    host: str = Field("127.0.0.1", validation_alias="PERFORMANCE_HOST")
    port: int = Field(8000, ge=1, le=65535, validation_alias="PERFORMANCE_PORT")
    log_level: str = Field("INFO", validation_alias="PERFORMANCE_LOG_LEVEL")
    timezone: str | None = Field(None, validation_alias="PERFORMANCE_TIMEZONE")
    # Key prefixes the Cache Optimizer may write under (comma-separated); empty: recommend only.
    # NoDecode: the environment value is a comma-separated list, not JSON.
    cache_managed_prefixes: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="PERFORMANCE_CACHE_MANAGED_PREFIXES"
    )
    # The application's own /metrics, or a Prometheus server that scrapes it (appmetrics).
    api_metrics_url: str | None = Field(None, validation_alias="PERFORMANCE_API_METRICS_URL")
    prometheus_url: str | None = Field(None, validation_alias="PERFORMANCE_PROMETHEUS_URL")

    file: FileConfig = FileConfig()

    @property
    def database_dsn(self) -> str:
        """DATABASE_URL, or PostgreSQL's local default when unset."""
        return self.database_url or "postgresql://postgres@127.0.0.1:5432/postgres"

    @property
    def redis_dsn(self) -> str:
        """REDIS_URL, or Redis's local default when unset."""
        return self.redis_url or "redis://127.0.0.1:6379/0"

    @field_validator("cache_managed_prefixes", mode="before")
    @classmethod
    def _split_prefixes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @model_validator(mode="after")
    def _log_level_known(self) -> Settings:
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {self.log_level!r}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


_ENV_NAMES: dict[str, str] = {
    name: str(field.validation_alias)
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, str)
}


def read_config_file(path: Path) -> FileConfig:
    """Parse and validate the TOML file; ConfigError names the key and value on failure."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"PERFORMANCE_CONFIG_FILE={path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PERFORMANCE_CONFIG_FILE={path}: invalid TOML: {exc}") from exc
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix=f"{path}: ", env=None)) from exc


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from an environment mapping (default: os.environ) and its config file."""
    env = dict(os.environ if environ is None else environ)
    known = {alias: env[alias] for alias in _ENV_NAMES.values() if alias in env}
    try:
        settings = Settings.model_validate(known)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix="", env=known)) from exc
    if settings.config_file is None:
        return settings
    return settings.model_copy(update={"file": read_config_file(settings.config_file)})


def _describe(exc: ValidationError, prefix: str, env: Mapping[str, str] | None) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        value = error.get("input")
        if env is not None:
            # Errors on an env-set field are reported by the variable's name and raw value.
            name = _ENV_NAMES.get(loc, loc)
            raw = env.get(name, value)
            lines.append(f"{prefix}{name}={raw!r}: {error['msg']}")
        else:
            lines.append(f"{prefix}{loc}={value!r}: {error['msg']}")
    return "invalid configuration: " + "; ".join(lines)
