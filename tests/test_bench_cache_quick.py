"""bench/cache.py --quick runs end to end, prints its figures and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "cache.py"


@pytest.mark.bench
def test_quick_run_prints_sweep_hot_key_and_compression_figures(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    printed = {
        name: float(value.split()[0])
        for name, _, value in (line.partition(" = ") for line in done.stdout.splitlines())
        if value
    }
    assert printed["sweep.script.keys_per_s"] > 0
    assert 0 <= printed["hotkeys.client_topk_precision_at_100"] <= 1
    assert printed["compression.10kb.ratio"] > 1
    for run in ("fixed_ttl", "adaptive"):
        assert 0 < printed[f"hitratio.{run}.hit_ratio"] < 1
        assert printed[f"hitratio.{run}.requests_per_s"] > 0
    assert not output.exists()
