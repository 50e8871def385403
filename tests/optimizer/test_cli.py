"""`perfpilot optimize|recommendations|benchmark` against a service that is not running: exit 2
with the reason (the served path is covered by the API tests these commands call)."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from perfpilot.cli.main import cli


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "args",
    [["optimize", "--type", "cpu"], ["recommendations"], ["benchmark", "--duration", "1"]],
)
def test_unreachable_service_exits_2(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--url", _dead_url()], env={})
    assert result.exit_code == 2, result.output
    assert "cannot reach" in result.output


def test_unknown_type_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["optimize", "--type", "gpu", "--url", _dead_url()])
    assert result.exit_code == 2
    assert "gpu" in result.output
