"""HostSampler against the real host (no psutil mocks); time comes from a ManualClock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.monitor.sample import CgroupLimits, HostSample
from perfpilot.monitor.sampler import PSEUDO_FSTYPES, HostSampler, counter_rate, quota_cpu_percent

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

RATE_FIELDS = (
    "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
    "disk_read_ops_per_s",
    "disk_write_ops_per_s",
    "net_recv_bytes_per_s",
    "net_sent_bytes_per_s",
    "net_errors_per_s",
    "net_drops_per_s",
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def no_cgroup(tmp_path: Path) -> Path:
    """A cgroup root without cgroup v2, so host figures are used whatever the test host is."""
    return tmp_path / "no-cgroup"


def _two_samples(sampler: HostSampler, clock: ManualClock) -> tuple[HostSample, HostSample]:
    first = sampler.sample(clock.now(), None)
    clock.advance(5)
    return first, sampler.sample(clock.now(), 0.002)


def test_first_sample_has_no_rates_and_no_cpu(clock: ManualClock, no_cgroup: Path) -> None:
    first = HostSampler(clock, cgroup_root=no_cgroup).sample(clock.now(), None)

    assert first.ts == START
    assert first.cpu_percent is None
    assert first.cpu_per_core_percent == ()
    assert all(getattr(first, name) is None for name in RATE_FIELDS)
    assert first.cgroup is None


def test_second_sample_has_rates_and_cpu(clock: ManualClock, no_cgroup: Path) -> None:
    _, second = _two_samples(HostSampler(clock, cgroup_root=no_cgroup), clock)

    assert second.ts == START.replace(second=5)
    assert second.cpu_percent is not None
    assert 0.0 <= second.cpu_percent <= 100.0
    assert len(second.cpu_per_core_percent) == psutil.cpu_count()
    assert second.cpu_percent == pytest.approx(
        sum(second.cpu_per_core_percent) / len(second.cpu_per_core_percent)
    )
    for name in RATE_FIELDS:
        rate = getattr(second, name)
        assert rate is not None, name
        assert rate >= 0.0, name
    assert second.event_loop_lag_s == 0.002


def test_memory_figures_agree(clock: ManualClock, no_cgroup: Path) -> None:
    sample = HostSampler(clock, cgroup_root=no_cgroup).sample(clock.now(), None)

    assert sample.memory_total_bytes > 0
    assert sample.memory_used_bytes + sample.memory_available_bytes == sample.memory_total_bytes
    assert sample.memory_percent == pytest.approx(
        100.0 * sample.memory_used_bytes / sample.memory_total_bytes
    )
    assert 0.0 <= sample.swap_percent <= 100.0
    assert sample.swap_used_bytes <= sample.swap_total_bytes


def test_process_figures(clock: ManualClock, no_cgroup: Path) -> None:
    sample = HostSampler(clock, cgroup_root=no_cgroup).sample(clock.now(), None)

    assert sample.self_rss_bytes > 10 * 1024 * 1024
    assert sample.process_count >= 1
    assert sample.load_avg is not None
    assert all(load >= 0.0 for load in sample.load_avg)


def test_disks_are_real_filesystems_once_each(clock: ManualClock, no_cgroup: Path) -> None:
    disks = HostSampler(clock, cgroup_root=no_cgroup).sample(clock.now(), None).disks

    assert disks, "expected at least one real filesystem"
    mounts = [disk.mount for disk in disks]
    assert len(mounts) == len(set(mounts))
    fstypes = {p.mountpoint: p.fstype for p in psutil.disk_partitions(all=True)}
    for disk in disks:
        assert fstypes[disk.mount] not in PSEUDO_FSTYPES
        assert 0 < disk.used_bytes <= disk.total_bytes
        assert 0.0 < disk.percent <= 100.0


def test_disk_mounts_filter(clock: ManualClock, no_cgroup: Path) -> None:
    only_root = HostSampler(clock, disk_mounts=("/",), cgroup_root=no_cgroup)
    nothing = HostSampler(clock, disk_mounts=("/no/such/mount",), cgroup_root=no_cgroup)

    assert [d.mount for d in only_root.sample(clock.now(), None).disks] == ["/"]
    assert nothing.sample(clock.now(), None).disks == ()


def test_no_elapsed_time_gives_no_rates(clock: ManualClock, no_cgroup: Path) -> None:
    sampler = HostSampler(clock, cgroup_root=no_cgroup)
    sampler.sample(clock.now(), None)

    again = sampler.sample(clock.now(), None)

    assert all(getattr(again, name) is None for name in RATE_FIELDS)


def test_sample_duration_is_measured_by_the_timer(clock: ManualClock, no_cgroup: Path) -> None:
    readings: Iterator[float] = iter([100.0, 100.25])
    sampler = HostSampler(clock, cgroup_root=no_cgroup, timer=lambda: next(readings))

    assert sampler.sample(clock.now(), None).sample_duration_s == 0.25


def _write_cgroup(root: Path, usage_usec: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "cpu.max").write_text("200000 100000\n")
    (root / "memory.max").write_text("1000000\n")
    (root / "memory.current").write_text("250000\n")
    (root / "cpu.stat").write_text(f"usage_usec {usage_usec}\nuser_usec 0\n")


def test_container_figures_are_relative_to_the_cgroup(clock: ManualClock, tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write_cgroup(root, usage_usec=1_000_000)
    sampler = HostSampler(clock, cgroup_root=root)

    first = sampler.sample(clock.now(), None)
    # 5 s of CPU time over 5 s of wall time is 1 core, half of a 2-core quota.
    _write_cgroup(root, usage_usec=6_000_000)
    clock.advance(5)
    second = sampler.sample(clock.now(), None)

    assert first.cpu_percent is None
    assert second.cgroup == CgroupLimits(2.0, 1_000_000, 250_000)
    assert second.cpu_percent == pytest.approx(50.0)
    assert second.memory_percent == pytest.approx(25.0)
    assert second.memory_total_bytes == psutil.virtual_memory().total


def test_counter_rate() -> None:
    assert counter_rate(1000, 6000, 5.0) == 1000.0
    assert counter_rate(1000, 1000, 5.0) == 0.0
    assert counter_rate(6000, 1000, 5.0) is None
    assert counter_rate(None, 1000, 5.0) is None
    assert counter_rate(1000, None, 5.0) is None
    assert counter_rate(1000, 2000, None) is None
    assert counter_rate(1000, 2000, 0.0) is None


def test_quota_cpu_percent_is_capped() -> None:
    assert quota_cpu_percent(500_000.0, 2.0) == pytest.approx(25.0)
    assert quota_cpu_percent(3_000_000.0, 2.0) == 100.0
