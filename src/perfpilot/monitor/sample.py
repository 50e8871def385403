"""One reading of the host: the typed record every other monitor module consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Space on one mounted filesystem."""

    mount: str
    total_bytes: int
    used_bytes: int
    percent: float


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """cgroup v2 limits of the container perfpilot runs in; None where unlimited or unreadable."""

    cpu_quota_cores: float | None
    memory_limit_bytes: int | None
    memory_used_bytes: int | None


@dataclass(frozen=True, slots=True)
class HostSample:
    """A host reading. Rates are per second over the interval since the previous sample;
    a rate is None on the first sample (no previous counters) and never invented."""

    ts: datetime
    cpu_percent: float | None
    cpu_per_core_percent: tuple[float, ...]
    load_avg: tuple[float, float, float] | None
    memory_total_bytes: int
    memory_used_bytes: int
    memory_available_bytes: int
    memory_percent: float
    swap_total_bytes: int
    swap_used_bytes: int
    swap_percent: float
    disks: tuple[DiskUsage, ...]
    disk_read_bytes_per_s: float | None
    disk_write_bytes_per_s: float | None
    disk_read_ops_per_s: float | None
    disk_write_ops_per_s: float | None
    net_recv_bytes_per_s: float | None
    net_sent_bytes_per_s: float | None
    net_errors_per_s: float | None
    net_drops_per_s: float | None
    process_count: int
    self_rss_bytes: int
    event_loop_lag_s: float | None
    cgroup: CgroupLimits | None
    sample_duration_s: float


# Series names used in history, rollups, alerts and forecasts. Percent series are 0-100.
CPU = "cpu"
MEMORY = "memory"
SWAP = "swap"
DISK_PREFIX = "disk:"


def disk_series(mount: str) -> str:
    """Series name of one mount's used-space percent, e.g. ``disk:/var``."""
    return f"{DISK_PREFIX}{mount}"


def resource_levels(sample: HostSample) -> dict[str, float]:
    """Percent levels that alert rules and forecasts watch; absent when unmeasured."""
    levels: dict[str, float] = {
        MEMORY: sample.memory_percent,
    }
    if sample.cpu_percent is not None:
        levels[CPU] = sample.cpu_percent
    if sample.swap_total_bytes > 0:
        levels[SWAP] = sample.swap_percent
    for disk in sample.disks:
        levels[disk_series(disk.mount)] = disk.percent
    return levels


def numeric_series(sample: HostSample) -> dict[str, float]:
    """Every scalar of the sample as named series (levels plus rates and counts) for history."""
    series = resource_levels(sample)
    optional: dict[str, float | None] = {
        "load1": sample.load_avg[0] if sample.load_avg else None,
        "disk_read_bytes_per_s": sample.disk_read_bytes_per_s,
        "disk_write_bytes_per_s": sample.disk_write_bytes_per_s,
        "disk_read_ops_per_s": sample.disk_read_ops_per_s,
        "disk_write_ops_per_s": sample.disk_write_ops_per_s,
        "net_recv_bytes_per_s": sample.net_recv_bytes_per_s,
        "net_sent_bytes_per_s": sample.net_sent_bytes_per_s,
        "net_errors_per_s": sample.net_errors_per_s,
        "net_drops_per_s": sample.net_drops_per_s,
        "event_loop_lag_s": sample.event_loop_lag_s,
    }
    series.update({name: value for name, value in optional.items() if value is not None})
    series["memory_used_bytes"] = float(sample.memory_used_bytes)
    series["process_count"] = float(sample.process_count)
    series["self_rss_bytes"] = float(sample.self_rss_bytes)
    for index, core in enumerate(sample.cpu_per_core_percent):
        series[f"cpu_core:{index}"] = core
    return series
