"""The command backend: the template gets the count, the observe command reports it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.backends.command import CommandBackend


def test_command_receives_the_count_and_observe_reads_it(tmp_path: Path) -> None:
    state = tmp_path / "replicas"
    state.write_text("2")
    write = f"{sys.executable} -c \"import sys; open('{state}', 'w').write(sys.argv[1])\" {{count}}"
    read = f"{sys.executable} -c \"print(open('{state}').read())\""
    backend = CommandBackend("api", write, read, timeout_s=10)
    assert backend.observe().instances == 2
    assert backend.scale(5).instances == 5
    assert state.read_text() == "5"


def test_failures_are_reasons() -> None:
    failing = CommandBackend(
        "api", f"{sys.executable} -c 'raise SystemExit(3)' {{count}}", None, 10
    )
    with pytest.raises(BackendError, match="exited 3"):
        failing.scale(2)
    assert failing.observe().reason == "no observe_command configured: count unknown"
    missing = CommandBackend("api", "/nonexistent/scale {count}", None, 10)
    with pytest.raises(BackendError, match="failed"):
        missing.scale(2)
    garbled = CommandBackend("api", "true {count}", "echo many", 10)
    assert garbled.observe().reason == "observe_command printed 'many', not a count"
