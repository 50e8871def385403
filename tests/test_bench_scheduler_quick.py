"""bench/scheduler_lateness.py --quick runs end to end, prints its figures and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "scheduler_lateness.py"


@pytest.mark.bench
def test_quick_run_prints_lateness_and_idle_cpu(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    printed = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    assert int(printed["lateness.fires"]) == 15
    p50, p99 = float(printed["lateness.p50_ms"]), float(printed["lateness.p99_ms"])
    # Lateness is never negative: a task never starts before its fire time.
    assert 0 <= p50 <= p99 <= float(printed["lateness.max_ms"])
    assert float(printed["idle.cpu_percent"]) >= 0
    assert float(printed["idle.baseline_cpu_percent"]) >= 0
    assert not output.exists()
