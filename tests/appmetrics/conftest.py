"""The load target shared by the appmetrics tests: ``metrics_app`` under uvicorn."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.ports import free_port


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    port = free_port()
    # Its own process: a server thread would share the GIL with the load client's threads,
    # and the client would measure its own waiting as latency.
    cmd = [sys.executable, "-m", "uvicorn", "metrics_app:app", "--port", str(port)]
    cmd += ["--log-level", "warning", "--app-dir", str(Path(__file__).parent)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/metrics", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "uvicorn exited"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
