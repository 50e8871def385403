"""``perfpilot tasks`` against a real ``perfpilot serve`` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CLI = [sys.executable, "-m", "perfpilot"]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PERFORMANCE_")}
    return subprocess.run(
        [*CLI, *args], env=clean | env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def env(tmp_path: Path, pg_dsn: str, redis_url: str) -> dict[str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "PERFORMANCE_PORT": str(port),
        "PERFORMANCE_API_TOKEN": "t0ken",
        "DATABASE_URL": pg_dsn,
        "REDIS_URL": redis_url,
        "COLUMNS": "200",
    }


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PERFORMANCE_")}
    process = subprocess.Popen(
        [*CLI, "serve"],
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{env['PERFORMANCE_PORT']}"
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


def test_list_run_and_history(served: str, env: dict[str, str]) -> None:
    listed = run_cli(["tasks", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["tasks"]) == 7
    human = run_cli(["tasks", "list"], env)
    assert "perf_optimization_regular" in human.stdout
    started = run_cli(["tasks", "run", "health_check_hourly", "--json"], env)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["started"] is True
    deadline = time.monotonic() + 10
    while True:
        history = run_cli(["tasks", "history", "health_check_hourly", "--json"], env)
        runs = json.loads(history.stdout)["runs"]
        if runs and runs[0]["status"] == "succeeded":
            break
        assert time.monotonic() < deadline, history.stdout
        time.sleep(0.1)
    assert history.returncode == 0
    table = run_cli(["tasks", "history", "health_check_hourly"], env)
    assert "succeeded" in table.stdout


def test_errors_exit_2(served: str, env: dict[str, str]) -> None:
    unknown = run_cli(["tasks", "run", "nope"], env)
    assert unknown.returncode == 2
    assert "404" in unknown.stderr
    wrong_token = run_cli(
        ["tasks", "run", "health_check_hourly"], env | {"PERFORMANCE_API_TOKEN": "x"}
    )
    assert wrong_token.returncode == 2
    assert "401" in wrong_token.stderr


def test_unreachable_service_exits_2(env: dict[str, str]) -> None:
    result = run_cli(["tasks", "list"], env)
    assert result.returncode == 2
    assert "perfpilot serve" in result.stderr
