"""The ``perfpilot`` command: serve, status, config check, monitor watch.

Exit codes follow DESIGN.md: 0 ok, 1 findings (something degraded or alerting), 2 error
(bad configuration, unreachable service).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from perfpilot.cli import monitor_watch, optimize, status_view
from perfpilot.cli.cache import cache_cli
from perfpilot.cli.common import JsonFlag, emit_json, load_or_exit
from perfpilot.cli.db import db_cli
from perfpilot.cli.scaling import scaling_cli
from perfpilot.cli.tasks import tasks_cli
from perfpilot.core.settings import Settings

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

cli = typer.Typer(help="perfpilot: performance autopilot for FastAPI + PostgreSQL + Redis.")
config_cli = typer.Typer(help="Configuration.")
monitor_cli = typer.Typer(help="Resource Monitor.")
cli.add_typer(config_cli, name="config")
cli.add_typer(monitor_cli, name="monitor")
cli.add_typer(db_cli, name="db")
cli.add_typer(cache_cli, name="cache")
cli.add_typer(tasks_cli, name="tasks")
cli.add_typer(scaling_cli, name="scaling")
cli.command("optimize")(optimize.optimize)
cli.command("recommendations")(optimize.recommendations)
cli.command("benchmark")(optimize.benchmark)

err = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Base URL of a running perfpilot (default from settings)."),
]


def _settings() -> Settings:
    return load_or_exit()


def _base_url(settings: Settings, url: str | None) -> str:
    return url or f"http://{settings.host}:{settings.port}"


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (PERFORMANCE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PERFORMANCE_PORT).")] = None,
) -> None:
    """Run the service."""
    import uvicorn

    from perfpilot.app import create_app

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
    )


@cli.command()
def status(
    url: UrlOption = None,
    local: Annotated[
        bool, typer.Option("--local", help="Sample this host directly instead of asking a service.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Overall status, from a running service or (--local) from this host directly."""
    settings = _settings()
    try:
        report = (
            status_view.local_status(settings)
            if local
            else status_view.remote_status(_base_url(settings, url))
        )
    except status_view.StatusUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc
    if as_json:
        emit_json(report)
    else:
        status_view.render(Console(), report)
    raise typer.Exit(EXIT_OK if status_view.is_healthy(report) else EXIT_FINDINGS)


@config_cli.command("check")
def config_check(as_json: JsonFlag = False) -> None:
    """Validate the environment and the config file without starting anything."""
    settings = _settings()
    summary = status_view.config_summary(settings)
    if as_json:
        emit_json(summary)
    else:
        Console().print("[green]configuration is valid[/green]")
        for key, value in summary.items():
            Console().print(f"  {key} = {value}", highlight=False)


def _at_least_half_second(value: float) -> float:
    if value < 0.5:
        raise typer.BadParameter(f"{value:g} is below the minimum of 0.5 seconds")
    return value


@monitor_cli.command("watch")
def watch(
    url: UrlOption = None,
    interval_s: Annotated[
        float, typer.Option("--interval", callback=_at_least_half_second, help="Seconds.")
    ] = 2.0,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many refreshes.")
    ] = None,
) -> None:
    """Live table of the host's resources from a running service."""
    settings = _settings()
    try:
        monitor_watch.run(_base_url(settings, url), interval_s, count)
    except status_view.StatusUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc


def main() -> None:
    """Console-script entry point."""
    cli()
