"""bench/scaling.py --quick runs end to end, prints both policies' figures and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "scaling.py"


@pytest.mark.bench
def test_quick_run_prints_both_policies(tmp_path: Path) -> None:
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
    for trace in ("daily_cycle", "flash_crowd", "slow_ramp"):
        for policy in ("perfpilot", "hpa"):
            assert float(printed[f"{trace}.{policy}.instance_hours"]) > 0
            assert float(printed[f"{trace}.{policy}.minutes_over_target"]) >= 0
    # The predictive layer's point: fewer minutes over target on the daily cycle.
    ours = float(printed["daily_cycle.perfpilot.minutes_over_target"])
    assert ours < float(printed["daily_cycle.hpa.minutes_over_target"])
    assert not output.exists()
