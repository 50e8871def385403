"""bench/index_advisor.py --quick runs end to end on a private cluster, prints every figure and
writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "index_advisor.py"


def figures(stdout: str) -> dict[str, str]:
    """``key = value`` lines of the script's output."""
    parsed = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            parsed[key] = value.strip()
    return parsed


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, Path]:
    output = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return figures(done.stdout), done.stdout, output


@pytest.mark.bench
def test_advisor_is_verified_and_costs_the_workload(
    quick_run: tuple[dict[str, str], str, Path],
) -> None:
    printed, _, _ = quick_run
    assert printed["advisor.verified"] == "True"
    assert int(printed["fingerprints"]) >= 20
    assert int(printed["fingerprints.costed"]) <= int(printed["fingerprints.select_dml"])
    assert float(printed["fingerprints.costed_percent"]) >= 95.0
    assert int(printed["advisor.whatif_costings"]) >= int(printed["fingerprints.costed"])
    assert float(printed["advisor.runtime_s"]) > 0


@pytest.mark.bench
def test_indexes_are_built_and_the_workload_gets_faster(
    quick_run: tuple[dict[str, str], str, Path],
) -> None:
    printed, stdout, _ = quick_run
    count = int(printed["indexes.count"])
    assert count > 0
    assert float(printed["indexes.size_mb"]) > 0
    assert stdout.count("index: CREATE INDEX CONCURRENTLY perfpilot_") == count
    baseline, indexed = float(printed["workload.baseline_s"]), float(printed["workload.indexed_s"])
    assert 0 < indexed < baseline
    assert float(printed["workload.speedup"]) == pytest.approx(baseline / indexed, rel=0.05)


@pytest.mark.bench
def test_every_target_is_reported(quick_run: tuple[dict[str, str], str, Path]) -> None:
    printed, _, _ = quick_run
    for target in ("speedup", "advisor_runtime", "costed"):
        assert printed[f"target.{target}"] in {"PASS", "MISS"}


@pytest.mark.bench
def test_quick_mode_writes_no_report(quick_run: tuple[dict[str, str], str, Path]) -> None:
    _, _, output = quick_run
    assert not output.exists()
