"""PGTune parity for given inputs, and the comparison with a real server's pg_settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from perfpilot.database.pgtune import (
    DbType,
    SettingAdvice,
    Storage,
    TuneInputs,
    format_kb,
    recommend,
)
from perfpilot.database.pgtune_compare import (
    ApplyBy,
    CurrentSetting,
    compare,
    memory_warnings,
    normalized,
    read_current_settings,
)
from perfpilot.database.pgtune_host import detect_host

GB = 1024**3


def lines(advice: list[SettingAdvice]) -> dict[str, str]:
    return {a.name: a.display for a in advice}


def test_web_ssd_16gb_8cpus_200_connections_matches_pgtune() -> None:
    advice = recommend(TuneInputs(16 * GB, cpus=8, db_type=DbType.WEB, storage=Storage.SSD))

    # RAM = 16 GB = 16777216 kB; shared_buffers = RAM/4 = 4194304 kB;
    # work_mem = (16777216 - 4194304) / ((200 connections + 8 worker processes) * 3)
    #          = 12582912 / 624 = 20164.9 -> 20164 kB (web: no divisor)
    assert lines(advice) == {
        "max_connections": "200",
        "shared_buffers": "4GB",
        "effective_cache_size": "12GB",
        "maintenance_work_mem": "1GB",
        "checkpoint_completion_target": "0.9",
        "wal_buffers": "16MB",  # 3 % of 4GB = 125829 kB, capped at 16MB
        "default_statistics_target": "100",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "work_mem": "20164kB",
        "huge_pages": "try",  # shared_buffers >= 2GB
        "min_wal_size": "1GB",
        "max_wal_size": "4GB",
        "max_worker_processes": "8",
        "max_parallel_workers_per_gather": "4",
        "max_parallel_workers": "8",
        "max_parallel_maintenance_workers": "4",
        "jit": "off",
        "wal_compression": "lz4",
    }
    assert advice[1].line == "shared_buffers = 4GB"


def test_dw_hdd_64gb_32cpus_uses_the_analytic_rules() -> None:
    advice = lines(recommend(TuneInputs(64 * GB, cpus=32, db_type=DbType.DW, storage=Storage.HDD)))

    # work_mem = (67108864 - 16777216) / ((40 + 32) * 3) / 2 = 50331648 / 216 / 2 = 116508.4
    assert advice["work_mem"] == "116508kB"
    assert advice["maintenance_work_mem"] == "8GB"  # RAM/8, at the 8GB cap
    assert advice["autovacuum_work_mem"] == "2GB"
    assert advice["autovacuum_max_workers"] == "5"
    assert advice["max_parallel_workers_per_gather"] == "16"  # ceil(32/2), no cap for dw
    assert advice["default_statistics_target"] == "500"
    assert (advice["random_page_cost"], advice["effective_io_concurrency"]) == ("4.0", "2")
    assert (advice["min_wal_size"], advice["max_wal_size"]) == ("4GB", "16GB")
    assert "jit" not in advice


def test_small_desktop_has_floors_and_no_parallel_settings() -> None:
    advice = lines(recommend(TuneInputs(2 * GB, cpus=2, db_type=DbType.DESKTOP)))

    # shared_buffers = 2GB/16 = 128MB; wal_buffers = 3 % of 131072 kB = 3932 kB
    assert advice["shared_buffers"] == "128MB"
    assert advice["effective_cache_size"] == "512MB"
    assert advice["wal_buffers"] == "3932kB"
    assert advice["work_mem"] == "4MB"  # (2097152-131072)/((20+8)*3)/6 = 3900 -> 4MB floor
    assert advice["huge_pages"] == "off"
    assert (advice["wal_level"], advice["max_wal_senders"]) == ("minimal", "0")
    assert "max_worker_processes" not in advice


def test_format_kb_uses_the_largest_exact_unit() -> None:
    assert [format_kb(v) for v in (4194304, 262144, 20165, 32)] == [
        "4GB",
        "256MB",
        "20165kB",
        "32kB",
    ]


@pytest.fixture
def current(pg_dsn: str) -> Iterator[list[CurrentSetting]]:
    names = [a.name for a in recommend(TuneInputs(16 * GB, cpus=8))]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield read_current_settings(conn, names)


def test_compare_keeps_differences_over_5_percent_tagged_by_context(
    current: list[CurrentSetting],
) -> None:
    by_name = {s.name: s for s in current}
    # The test server runs with shared_buffers = 32MB (8kB pages) and max_connections = 100.
    assert normalized(by_name["shared_buffers"]) == 32 * 1024.0
    near = [
        SettingAdvice("shared_buffers", 33 * 1024, "kB"),  # 3 % over 32MB: kept as is
        SettingAdvice("max_connections", 200),
        SettingAdvice("work_mem", 64 * 1024, "kB"),
        SettingAdvice("random_page_cost", 1.1),
        SettingAdvice("checkpoint_completion_target", 0.9),  # the default already
    ]

    changes = {c.name: c for c in compare(near, current)}

    assert set(changes) == {"max_connections", "work_mem", "random_page_cost"}
    assert (changes["max_connections"].current, changes["max_connections"].apply_by) == (
        "100",
        ApplyBy.RESTART,
    )
    assert (changes["work_mem"].current, changes["work_mem"].recommended) == ("4MB", "64MB")
    assert changes["work_mem"].apply_by is ApplyBy.RELOAD
    assert changes["random_page_cost"].line == "random_page_cost = 1.1"


def test_full_advice_against_the_test_server(current: list[CurrentSetting]) -> None:
    changes = {c.name: c.apply_by for c in compare(recommend(TuneInputs(16 * GB, cpus=8)), current)}

    assert changes["shared_buffers"] is ApplyBy.RESTART
    assert changes["max_wal_size"] is ApplyBy.RELOAD
    assert changes["effective_cache_size"] is ApplyBy.RELOAD
    assert changes["jit"] is ApplyBy.RELOAD
    # The server's defaults already match: 0.9, statistics target 100, huge_pages = try.
    assert "checkpoint_completion_target" not in changes
    assert "huge_pages" not in changes
    assert "default_statistics_target" not in changes


def test_auto_values_resolve_like_the_server() -> None:
    current = [
        CurrentSetting("shared_buffers", "16384", "8kB", "postmaster"),  # 128MB
        CurrentSetting("wal_buffers", "-1", "8kB", "postmaster"),
        CurrentSetting("maintenance_work_mem", "65536", "kB", "user"),
        CurrentSetting("autovacuum_work_mem", "-1", "kB", "sighup"),
    ]

    assert normalized(current[1], current) == 4096.0  # 128MB / 32
    assert normalized(current[3], current) == 65536.0


def test_memory_warnings_flag_an_overcommitted_configuration() -> None:
    current = [CurrentSetting("autovacuum_max_workers", "3", None, "postmaster")]
    safe = recommend(TuneInputs(16 * GB, cpus=8))
    risky = [
        *safe,
        SettingAdvice("work_mem", 256 * 1024, "kB"),  # 200 x 256MB = 50GB
        SettingAdvice("max_connections", 600),
    ]

    assert memory_warnings(16 * GB, safe, current) == []
    warnings = memory_warnings(16 * GB, risky, current)
    assert any("over 80% of RAM" in w for w in warnings)
    assert any("pooler" in w for w in warnings)


def test_detect_host_honours_cgroup_limits(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text(f"{2 * GB}\n")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    unlimited = tmp_path / "none"
    unlimited.mkdir()
    (unlimited / "memory.max").write_text("max\n")

    host = detect_host(tmp_path)
    free = detect_host(unlimited)

    assert host.memory_bytes == min(2 * GB, free.memory_bytes)
    assert host.cpus == min(2, free.cpus)  # 1.5 CPUs of quota round up to 2
    assert free.memory_bytes > 0
