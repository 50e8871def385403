"""The perfpilot command, run as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.ports import free_port

CLI = [sys.executable, "-m", "perfpilot"]


def run_cli(
    args: list[str], env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PERFORMANCE_")}
    return subprocess.run(
        [*CLI, *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture
def base_env(tmp_path: Path, pg_dsn: str, redis_url: str) -> dict[str, str]:
    return {
        "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DATABASE_URL": pg_dsn,
        "REDIS_URL": redis_url,
        "COLUMNS": "200",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [("PERFORMANCE_CPU_THRESHOLD", "abc"), ("PERFORMANCE_MONITORING_ENABLED", "perhaps")],
)
def test_serve_with_bad_env_exits_2_naming_variable(
    base_env: dict[str, str], name: str, value: str
) -> None:
    result = run_cli(["serve"], base_env | {name: value})
    assert result.returncode == 2
    assert name in result.stderr
    assert value in result.stderr


def test_config_check_valid_and_invalid(base_env: dict[str, str], tmp_path: Path) -> None:
    ok = run_cli(["config", "check", "--json"], base_env | {"PERFORMANCE_CPU_THRESHOLD": "65"})
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["cpu_threshold"] == 65
    assert summary["alerts"]["cpu"]["critical"] == 90
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text("[alerts]\ncpu = { warning = 99, critical = 90 }\n", encoding="utf-8")
    bad = run_cli(["config", "check"], base_env | {"PERFORMANCE_CONFIG_FILE": str(bad_file)})
    assert bad.returncode == 2
    assert "alerts.cpu" in bad.stderr


def test_watch_interval_below_minimum_is_a_usage_error(base_env: dict[str, str]) -> None:
    result = run_cli(["monitor", "watch", "--interval", "0.01", "--count", "1"], base_env)
    assert result.returncode == 2
    assert "0.01" in result.stderr


def test_status_local_checks_host_database_and_cache(base_env: dict[str, str]) -> None:
    result = run_cli(["status", "--local", "--json"], base_env)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["components"]}
    assert by_name["database"]["state"] == "ok"
    assert by_name["cache"]["state"] == "ok"
    assert 0 < report["levels"]["memory"] <= 100
    assert "cpu" in report["levels"]
    # Exit code 1 exactly when something is firing or degraded.
    assert (result.returncode == 1) == bool(report["firing"] or report["status"] != "ok")


def test_status_without_a_service_exits_2(base_env: dict[str, str]) -> None:
    port = free_port()
    result = run_cli(["status", "--url", f"http://127.0.0.1:{port}"], base_env)
    assert result.returncode == 2
    assert "perfpilot serve" in result.stderr


@pytest.fixture
def served(base_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFORMANCE_")}
    env |= base_env | {"PERFORMANCE_PORT": str(port)}
    process = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"perfpilot serve did not start:\n{output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_serve_status_and_watch_against_a_running_service(
    served: str, base_env: dict[str, str]
) -> None:
    result = run_cli(["status", "--url", served, "--json"], base_env)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert {"monitor", "store", "database", "cache"} <= {c["name"] for c in report["components"]}
    human = run_cli(["status", "--url", served], base_env)
    assert "monitor" in human.stdout
    watch = run_cli(["monitor", "watch", "--url", served, "--count", "1"], base_env)
    assert watch.returncode == 0, watch.stderr
    assert "memory" in watch.stdout
    assert "event-loop lag" in watch.stdout
