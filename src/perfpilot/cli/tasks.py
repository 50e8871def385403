"""``perfpilot tasks list|run|history``: the Performance Scheduler of a running service.

Exit codes: 0 ok; 1 findings (a task's latest run failed, timed out or was missed); 2 error
(bad configuration, the service cannot be reached, unknown task, run refused).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from perfpilot.cli.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, JsonFlag, err, load_or_exit

PREFIX = "/api/v1/performance/scheduler"
BAD_STATUSES = {"failed", "timed_out", "missed"}

tasks_cli = typer.Typer(help="Performance Scheduler: tasks and their runs.")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Base URL of a running perfpilot (default from settings)."),
]


def _call(method: str, path: str, url: str | None, timeout_s: float = 10.0) -> Any:
    settings = load_or_exit()
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    headers = {}
    if settings.api_token is not None:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    try:
        response = httpx.request(method, base + path, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] cannot reach {base}: {exc} (is `perfpilot serve` running?)")
        raise typer.Exit(EXIT_ERROR) from exc
    if response.status_code >= 400:
        detail = response.json().get("detail", response.text) if response.content else ""
        err.print(f"[red]error:[/red] {method} {path}: {response.status_code} {detail}")
        raise typer.Exit(EXIT_ERROR)
    return response.json()


def _emit(data: Any, as_json: bool, table: Table) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        Console().print(table)


@tasks_cli.command("list")
def list_tasks(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Every task with its schedule, zone and state."""
    body = _call("GET", f"{PREFIX}/tasks", url)
    table = Table("id", "cron", "zone", "state", title="scheduler tasks")
    for task in body["tasks"]:
        table.add_row(task["id"], task["cron_expression"], task["timezone"], task["state"])
    _emit(body, as_json, table)


@tasks_cli.command("run")
def run_task(task_id: str, url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Run a task now (needs PERFORMANCE_API_TOKEN when the service has one)."""
    body = _call("POST", f"{PREFIX}/tasks/{task_id}/run", url)
    table = Table("task", "run", "state", title="run requested")
    state = "started" if body["started"] else f"queued: {body['waiting']}"
    table.add_row(body["task_id"], body["run"]["id"], state)
    _emit(body, as_json, table)


@tasks_cli.command("history")
def history(
    task_id: str,
    url: UrlOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Runs to show.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """A task's runs, newest first; exit 1 when the newest failed, timed out or was missed."""
    body = _call("GET", f"{PREFIX}/tasks/{task_id}/runs?limit={limit}", url)
    table = Table("scheduled for", "status", "attempts", "duration s", "detail", title=task_id)
    for run in body["runs"]:
        duration = "" if run["duration_s"] is None else f"{run['duration_s']:.2f}"
        detail = run["error"] or run["summary"] or ""
        table.add_row(run["scheduled_for"], run["status"], str(run["attempts"]), duration, detail)
    _emit(body, as_json, table)
    newest = body["runs"][0]["status"] if body["runs"] else None
    raise typer.Exit(EXIT_FINDINGS if newest in BAD_STATUSES else EXIT_OK)
