"""What every subcommand shares: settings loading that exits 2 on a bad value, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from perfpilot.core.errors import ConfigError
from perfpilot.core.settings import Settings, load_settings

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

err = Console(stderr=True)


def load_or_exit() -> Settings:
    """Settings from the environment; a bad value is printed and exits with code 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc


T = TypeVar("T")


def fail(exc: BaseException) -> NoReturn:
    """Print the error and exit with code 2."""
    err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    raise typer.Exit(EXIT_ERROR) from exc


def with_progress(
    message: str, work: Callable[[], T], errors: tuple[type[BaseException], ...]
) -> T:
    """Run ``work`` under a spinner on stderr; one of ``errors`` exits 2 with its message."""
    try:
        with err.status(message):
            return work()
    except errors as exc:
        fail(exc)


def emit_json(data: object) -> None:
    """Data as indented JSON on stdout (datetimes and the like as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
