"""bench/monitor_overhead.py --quick runs end to end, prints every figure and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "monitor_overhead.py"
ENDPOINTS = ("/healthz", "/metrics", "/api/v1/performance/metrics")


def figures(stdout: str) -> dict[str, str]:
    """``key = value`` lines of the script's output, the value up to its first space."""
    parsed = {}
    for line in stdout.splitlines():
        key, sep, rest = line.partition(" = ")
        if sep:
            parsed[key] = rest.split()[0]
    return parsed


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    output = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return figures(done.stdout), output


@pytest.mark.bench
def test_prints_idle_cpu_of_each_service(quick_run: tuple[dict[str, str], Path]) -> None:
    printed, _ = quick_run
    for key in ("baseline", "interval_1s", "interval_5s"):
        assert float(printed[f"cpu.{key}_percent"]) >= 0


@pytest.mark.bench
def test_prints_history_memory_at_both_intervals(
    quick_run: tuple[dict[str, str], Path],
) -> None:
    printed, _ = quick_run
    assert int(printed["history.5s.1h.samples"]) == 720
    assert int(printed["history.1s.1h.samples"]) == 3600
    for interval in ("5s", "1s"):
        assert int(printed[f"history.{interval}.1h.series"]) > 0
        assert float(printed[f"history.{interval}.1h.nbytes_mb"]) > 0
        float(printed[f"history.{interval}.1h.rss_mb"])


@pytest.mark.bench
def test_prints_latency_of_each_endpoint(quick_run: tuple[dict[str, str], Path]) -> None:
    printed, _ = quick_run
    for path in ENDPOINTS:
        p50, p99 = (
            float(printed[f"latency.{path}.p50_ms"]),
            float(printed[f"latency.{path}.p99_ms"]),
        )
        assert 0 < p50 <= p99 <= float(printed[f"latency.{path}.max_ms"])
        assert float(printed[f"latency.{path}.rate_per_s"]) > 0
        assert int(printed[f"latency.{path}.errors"]) >= 0


@pytest.mark.bench
def test_quick_mode_writes_no_report(quick_run: tuple[dict[str, str], Path]) -> None:
    _, output = quick_run
    assert not output.exists()
