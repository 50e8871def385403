"""What every subcommand shares: settings loading that exits 2 on a bad value, exit codes."""

from __future__ import annotations

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
