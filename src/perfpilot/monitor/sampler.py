"""Host readings from psutil in non-blocking forms; rates come from counter deltas.

Every psutil call here returns at once (no ``interval`` argument), so a sample never sleeps.
It may still block briefly on I/O (statvfs of a slow mount), which is why the monitor calls it
from a worker thread, never from the event loop.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from perfpilot.core.clock import Clock
from perfpilot.monitor.cgroup import DEFAULT_ROOT, CgroupReader
from perfpilot.monitor.sample import CgroupLimits, DiskUsage, HostSample

logger = logging.getLogger(__name__)

# Filesystems that hold no user data. psutil's own all=False filter is not used because it
# drops every "nodev" filesystem, including the overlay root of a container, leaving only
# bind-mounted files such as /etc/hosts there.
PSEUDO_FSTYPES = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal",
        "fusectl", "hugetlbfs", "iso9660", "mqueue", "nfsd", "nsfs", "proc", "pstore", "ramfs",
        "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    }
)  # fmt: skip


def counter_rate(
    previous: int | None, current: int | None, elapsed_s: float | None
) -> float | None:
    """Per-second increase of a counter; None when either reading is missing or it went back."""
    if previous is None or current is None or elapsed_s is None or elapsed_s <= 0:
        return None
    if current < previous:
        # A wrap or reset (device removed, interface recreated): the true increase is unknown.
        return None
    return (current - previous) / elapsed_s


def quota_cpu_percent(usage_usec_per_s: float, quota_cores: float) -> float:
    """CPU used by a cgroup as a percent of its quota, capped at 100 (timing jitter)."""
    return min(100.0, usage_usec_per_s / 1e6 / quota_cores * 100.0)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    monotonic_s: float
    counters: Mapping[str, int]


class HostSampler:
    """Takes HostSamples; keeps the previous counters, so one instance per sampling thread."""

    def __init__(
        self,
        clock: Clock,
        disk_mounts: Collection[str] = (),
        cgroup_root: Path | str = DEFAULT_ROOT,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self._disk_mounts = frozenset(disk_mounts)
        self._cgroup = CgroupReader(cgroup_root)
        # The sample's own duration is real work, measured with a real timer even when the
        # clock is a test's ManualClock.
        self._timer = timer
        self._process = psutil.Process()
        self._previous: _Snapshot | None = None
        self._cpu_primed = False

    def sample(self, now: datetime, event_loop_lag_s: float | None) -> HostSample:
        """Read the host now; raises OSError or psutil.Error only when memory cannot be read."""
        started = self._timer()
        per_core = self._per_core_percent()
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        limits = self._cgroup.limits()
        snapshot = _Snapshot(self._clock.monotonic(), self._read_counters())
        rates = self._rates(snapshot)
        self._previous = snapshot
        # psutil's "used" leaves out reclaimable cache inconsistently across kernels; total
        # minus available is what its percent is computed from, so the three fields agree.
        used = memory.total - memory.available
        return HostSample(
            ts=now,
            cpu_percent=_cpu_percent(per_core, limits, rates.get("cgroup_cpu_usec")),
            cpu_per_core_percent=per_core or (),
            load_avg=_load_avg(),
            memory_total_bytes=memory.total,
            memory_used_bytes=used,
            memory_available_bytes=memory.available,
            memory_percent=_memory_percent(used, memory.total, limits),
            swap_total_bytes=swap.total,
            swap_used_bytes=swap.used,
            swap_percent=swap.percent,
            disks=self._disks(),
            disk_read_bytes_per_s=rates.get("disk_read_bytes"),
            disk_write_bytes_per_s=rates.get("disk_write_bytes"),
            disk_read_ops_per_s=rates.get("disk_read_ops"),
            disk_write_ops_per_s=rates.get("disk_write_ops"),
            net_recv_bytes_per_s=rates.get("net_recv_bytes"),
            net_sent_bytes_per_s=rates.get("net_sent_bytes"),
            net_errors_per_s=rates.get("net_errors"),
            net_drops_per_s=rates.get("net_drops"),
            process_count=len(psutil.pids()),
            self_rss_bytes=self._process.memory_info().rss,
            event_loop_lag_s=event_loop_lag_s,
            cgroup=limits,
            sample_duration_s=self._timer() - started,
        )

    def _per_core_percent(self) -> tuple[float, ...] | None:
        # interval=None compares with psutil's previous call, whose state is module-wide: the
        # first call only primes it. Nothing else in perfpilot may call cpu_percent(percpu=True).
        per_core = tuple(psutil.cpu_percent(interval=None, percpu=True))
        if not self._cpu_primed:
            self._cpu_primed = True
            return None
        return per_core

    def _rates(self, snapshot: _Snapshot) -> dict[str, float | None]:
        if self._previous is None:
            return {}
        elapsed = snapshot.monotonic_s - self._previous.monotonic_s
        before = self._previous.counters
        return {
            name: counter_rate(before.get(name), value, elapsed)
            for name, value in snapshot.counters.items()
        }

    def _read_counters(self) -> dict[str, int]:
        counters: dict[str, int] = {}
        try:
            disk = psutil.disk_io_counters(perdisk=False)
        except (OSError, psutil.Error) as exc:
            logger.debug("disk I/O counters unavailable: %s", exc)
            disk = None
        if disk is not None:
            counters["disk_read_bytes"] = disk.read_bytes
            counters["disk_write_bytes"] = disk.write_bytes
            counters["disk_read_ops"] = disk.read_count
            counters["disk_write_ops"] = disk.write_count
        try:
            nics = psutil.net_io_counters(pernic=True)
        except (OSError, psutil.Error) as exc:
            logger.debug("network counters unavailable: %s", exc)
            nics = {}
        # Loopback is left out: local traffic (app to a local PostgreSQL or Redis) uses no
        # network capacity and would be counted twice, as sent and as received.
        external = [nic for name, nic in nics.items() if not _is_loopback(name)]
        if external:
            counters["net_recv_bytes"] = sum(nic.bytes_recv for nic in external)
            counters["net_sent_bytes"] = sum(nic.bytes_sent for nic in external)
            counters["net_errors"] = sum(nic.errin + nic.errout for nic in external)
            counters["net_drops"] = sum(nic.dropin + nic.dropout for nic in external)
        usage = self._cgroup.cpu_usage_usec()
        if usage is not None:
            counters["cgroup_cpu_usec"] = usage
        return counters

    def _disks(self) -> tuple[DiskUsage, ...]:
        disks: list[DiskUsage] = []
        seen_devices: set[str] = set()
        for part in psutil.disk_partitions(all=True):
            if not self._watched(part.mountpoint, part.fstype) or part.device in seen_devices:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except (OSError, psutil.Error) as exc:
                logger.debug("skipping mount %s: %s", part.mountpoint, exc)
                continue
            if usage.total == 0:
                continue  # a pseudo filesystem not in PSEUDO_FSTYPES
            seen_devices.add(part.device)
            disks.append(DiskUsage(part.mountpoint, usage.total, usage.used, usage.percent))
        return tuple(disks)

    def _watched(self, mountpoint: str, fstype: str) -> bool:
        if self._disk_mounts:
            return mountpoint in self._disk_mounts
        # A mount point that is a file is a bind mount (e.g. /etc/hosts in a container).
        return fstype not in PSEUDO_FSTYPES and os.path.isdir(mountpoint)


def _cpu_percent(
    per_core: tuple[float, ...] | None,
    limits: CgroupLimits | None,
    cgroup_usec_per_s: float | None,
) -> float | None:
    # In a container with a CPU quota the figure that matters is use against the quota.
    # /proc/stat (psutil's source) is host-wide there, so host percent x host cores / quota
    # would charge other containers' work to this one; cpu.stat usage_usec is the cgroup's
    # own CPU time, the figure `docker stats` and cAdvisor report.
    if limits is not None and limits.cpu_quota_cores is not None:
        if cgroup_usec_per_s is None:
            return None
        return quota_cpu_percent(cgroup_usec_per_s, limits.cpu_quota_cores)
    if not per_core:
        return None
    return sum(per_core) / len(per_core)


def _memory_percent(used: int, total: int, limits: CgroupLimits | None) -> float:
    # Under a cgroup memory limit the OOM killer acts on memory.current against memory.max,
    # not on host memory, so that ratio is the one to alert on.
    if limits is not None and limits.memory_limit_bytes and limits.memory_used_bytes is not None:
        return limits.memory_used_bytes / limits.memory_limit_bytes * 100.0
    return used / total * 100.0


def _load_avg() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError as exc:
        logger.debug("load average unavailable: %s", exc)
        return None


def _is_loopback(nic: str) -> bool:
    return nic == "lo" or (nic.startswith("lo") and nic[2:].isdigit())
