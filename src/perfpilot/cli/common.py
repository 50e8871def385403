"""What every subcommand shares: settings loading that exits 2 on a bad value, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from perfpilot.core.errors import ConfigError
from perfpilot.core.settings import Settings, load_settings

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# Options several subcommands take, declared once so their flags and help read the same.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]
ForceFlag = Annotated[bool, typer.Option("--force", help="Apply (up to medium risk).")]
ActionOption = Annotated[
    list[str] | None, typer.Option("--action", help="Only this action id (repeatable).")
]

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


def finish_outcomes(rows: Sequence[BaseModel], columns: Sequence[str], as_json: bool) -> None:
    """Print action outcomes (JSON or a table of ``columns``); exit 2 if one failed, else 0."""
    if as_json:
        emit_json([row.model_dump(mode="json") for row in rows])
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(getattr(row, column)) for column in columns))
        Console().print(table)
    failed = any(getattr(row, "outcome", None) == "failed" for row in rows)
    raise typer.Exit(EXIT_ERROR if failed else EXIT_OK)
