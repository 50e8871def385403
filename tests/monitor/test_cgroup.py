"""cgroup v2 limits read from real files written into a temporary cgroup tree."""

from __future__ import annotations

from pathlib import Path

from perfpilot.monitor.cgroup import CgroupReader, read_cgroup_limits
from perfpilot.monitor.sample import CgroupLimits


def _cgroup_tree(root: Path, files: dict[str, str], own: str = "/") -> Path:
    """Write a cgroup v2 hierarchy under root and a /proc/self/cgroup naming ``own``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    proc = root.parent / "proc_self_cgroup"
    proc.write_text(f"0::{own}\n")
    return proc


def test_unlimited_container_has_no_limits_but_reports_usage(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(
        root, {"cpu.max": "max 100000\n", "memory.max": "max\n", "memory.current": "52428800\n"}
    )

    assert read_cgroup_limits(root, proc) == CgroupLimits(None, None, 52_428_800)


def test_quota_and_memory_limit_are_parsed(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(
        root,
        {
            "cpu.max": "150000 100000\n",
            "memory.max": "536870912\n",
            "memory.current": "134217728\n",
        },
    )

    limits = read_cgroup_limits(root, proc)

    assert limits == CgroupLimits(1.5, 536_870_912, 134_217_728)


def test_two_core_quota(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(root, {"cpu.max": "200000 100000\n"})

    limits = read_cgroup_limits(root, proc)

    assert limits is not None
    assert limits.cpu_quota_cores == 2.0


def test_no_cgroup_v2_at_root_gives_none(tmp_path: Path) -> None:
    v1_like = tmp_path / "cg"
    (v1_like / "memory").mkdir(parents=True)
    (v1_like / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")

    assert read_cgroup_limits(v1_like) is None
    assert read_cgroup_limits(tmp_path / "missing") is None
    assert CgroupReader(v1_like).cpu_usage_usec() is None


def test_unreadable_or_garbled_files_give_none_fields(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(root, {"memory.max": "a lot\n", "cpu.max": "\n"})
    # A directory where a file should be: reading it raises IsADirectoryError.
    (root / "memory.current").mkdir()

    assert read_cgroup_limits(root, proc) == CgroupLimits(None, None, None)


def test_nested_cgroup_takes_tightest_ancestor_limit(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    service = "system.slice/perfpilot.service"
    proc = _cgroup_tree(
        root,
        {
            "system.slice/cpu.max": "50000 100000\n",
            "system.slice/memory.max": "1073741824\n",
            f"{service}/cpu.max": "max 100000\n",
            f"{service}/memory.max": "2147483648\n",
            f"{service}/memory.current": "1000\n",
            "memory.current": "999999\n",
        },
        own=f"/{service}",
    )

    assert read_cgroup_limits(root, proc) == CgroupLimits(0.5, 1_073_741_824, 1000)


def test_own_cgroup_missing_under_root_falls_back_to_root(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(root, {"memory.max": "4096\n", "memory.current": "1024\n"}, own="/gone")

    reader = CgroupReader(root, proc)

    assert reader.own_dir() == root
    assert reader.limits() == CgroupLimits(None, 4096, 1024)


def test_own_cgroup_path_cannot_escape_root(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    (tmp_path / "outside").mkdir()
    proc = _cgroup_tree(root, {}, own="/../outside")

    assert CgroupReader(root, proc).own_dir() == root


def test_cpu_usage_is_read_from_cpu_stat(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(
        root, {"cpu.stat": "usage_usec 8123456\nuser_usec 6000000\nsystem_usec 2123456\n"}
    )

    assert CgroupReader(root, proc).cpu_usage_usec() == 8_123_456


def test_cpu_usage_missing_key_is_none(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _cgroup_tree(root, {"cpu.stat": "nr_periods 0\n"})

    assert CgroupReader(root, proc).cpu_usage_usec() is None
