"""A real gunicorn (uvicorn workers, --pid file) started here, scaled 2 -> 4 -> 2 through the
backend and through the scaler, its workers counted from the process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.core.scaling_config import ScalingConfig, ServiceConfig
from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.backends.factory import backend_for, usage_for
from perfpilot.scaling.backends.gunicorn import GunicornBackend, workers
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.scaler import AutoScaler
from perfpilot.scaling.service import ServiceRuntime

HERE = Path(__file__).parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _worker_pids(master_pid: int) -> set[int]:
    """Counted independently of the backend: every live child of the master."""
    children = psutil.Process(master_pid).children()
    return {c.pid for c in children if c.status() != psutil.STATUS_ZOMBIE}


def _wait(predicate: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def gunicorn_pidfile(tmp_path: Path) -> Iterator[Path]:
    pidfile = tmp_path / "gunicorn.pid"
    cmd = [
        str(GUNICORN),
        "hello_app:app",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--workers",
        "2",
        "--bind",
        "127.0.0.1:0",
        "--pid",
        str(pidfile),
        "--graceful-timeout",
        "5",
    ]
    proc = subprocess.Popen(
        cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit())
        master = int(pidfile.read_text())
        _wait(lambda: len(_worker_pids(master)) == 2)
        yield pidfile
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_backend_scales_real_workers_2_4_2(gunicorn_pidfile: Path) -> None:
    backend = GunicornBackend(gunicorn_pidfile, timeout_s=20)
    master = int(gunicorn_pidfile.read_text())
    assert backend.observe().instances == 2
    up = backend.scale(4)
    assert up.instances == 4
    assert len(_worker_pids(master)) == 4
    down = backend.scale(2)
    assert down.instances == 2
    _wait(lambda: len(_worker_pids(master)) == 2)


def test_scaler_scales_gunicorn_from_its_own_cpu(gunicorn_pidfile: Path) -> None:
    """Process-tree usage and the scaler together: idle workers (CPU ~0 %) and a raised
    floor; execution goes through TTIN/TTOU and the count is reconciled from the tree."""
    service = ServiceConfig.model_validate(
        {
            "name": "hello",
            "min_instances": 4,
            "max_instances": 6,
            "backend": {"kind": "gunicorn", "pidfile": str(gunicorn_pidfile), "timeout_s": 20},
        }
    )
    backend = backend_for(service)
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    # CPU is averaged over the manual clock's intervals, so a reading taken milliseconds after
    # the previous one cannot turn a worker's stray millisecond of CPU into a high percentage.
    usage = usage_for(service, backend, clock.monotonic)
    assert usage is not None
    scaler = AutoScaler(
        ScalingConfig(services=(service,)),
        [ServiceRuntime(service, backend, usage)],
        ScalerParts(clock=clock),
        enabled=True,
    )
    [execution] = scaler.cycle()
    assert (execution.previous, execution.observed, execution.status) == (2, 4, "success")
    master = int(gunicorn_pidfile.read_text())
    assert len(_worker_pids(master)) == 4
    clock.advance(15)
    [decision] = scaler.evaluate()
    readings = {p.metric: p.value for p in decision.proposals}
    # Idle workers: their own CPU, not the host's, is near zero.
    assert readings["cpu"] is not None
    assert readings["cpu"] < 20
    assert readings["memory"] is not None
    assert 0 < readings["memory"] < 100
    # The operator lowers the floor back to 2; after the flap guard's 600 s the idle
    # service goes down to it in one step.
    runtime = scaler.runtimes()[0]
    runtime.config = runtime.config.model_copy(update={"min_instances": 2})
    clock.advance(601)
    [down] = scaler.cycle()
    assert (down.previous, down.desired, down.observed) == (4, 2, 2)
    _wait(lambda: len(_worker_pids(master)) == 2)
    assert len(workers(psutil.Process(master))) == 2


def test_dead_pidfile_is_a_clear_reason(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = tmp_path / "gunicorn.pid"
    pidfile.write_text(str(dead.pid))
    backend = GunicornBackend(pidfile)
    observed = backend.observe()
    assert observed.instances is None
    assert observed.reason == f"gunicorn pidfile {pidfile} points at dead process {dead.pid}"
    with pytest.raises(BackendError, match="dead process"):
        backend.scale(3)
    missing = GunicornBackend(tmp_path / "absent.pid").observe()
    assert missing.reason is not None
    assert "cannot read gunicorn pidfile" in missing.reason
