"""``perfpilot optimize|recommendations|benchmark``: the Performance Optimizer of a running
service. They talk to the service rather than run locally, because the service is where the
one-run-at-a-time lock, the action history, the settle-and-judge loop and the benchmark's rate
limit live; a second local optimizer would bypass all four.

Exit codes: 0 ok (nothing to do, or everything applied); 1 findings (actions proposed, or an
action failed); 2 error (bad configuration, service unreachable, refused).
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from perfpilot.cli.common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    JsonFlag,
    emit_json,
    err,
    load_or_exit,
)
from perfpilot.optimizer.model import OptimizationType

PREFIX = "/api/v1/performance"
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Base URL of a running perfpilot (default from settings)."),
]


def call(method: str, path: str, url: str | None, timeout_s: float, **kwargs: Any) -> Any:
    """One request to the service under a spinner; any failure exits 2 with the reason."""
    settings = load_or_exit()
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    headers = {}
    if settings.api_token is not None:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    try:
        with err.status(f"{method} {path}…"):
            response = httpx.request(
                method, base + path, headers=headers, timeout=timeout_s, **kwargs
            )
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] cannot reach {base}: {exc} (is `perfpilot serve` running?)")
        raise typer.Exit(EXIT_ERROR) from exc
    if response.status_code >= 400:
        err.print(f"[red]error:[/red] {method} {path}: {response.status_code} {response.text}")
        raise typer.Exit(EXIT_ERROR)
    return response.json()


def optimize(
    types: Annotated[
        list[OptimizationType] | None,
        typer.Option("--type", help="cpu, memory, database, cache or api (repeatable)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Apply up to medium risk (force); default: plan.")
    ] = False,
    url: UrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Analyse and plan (or, with --apply, apply) optimizations on the running service."""
    body = {"force": apply, "optimization_types": [t.value for t in types] if types else None}
    result = call("POST", f"{PREFIX}/optimization/execute", url, 3600.0, json=body)
    if as_json:
        emit_json(result)
    else:
        table = Table("type", "state", "summary")
        for part in result["analysis"]:
            table.add_row(part["type"], part["state"], part["summary"])
        actions = Table("id", "status", "risk", "action", "detail")
        for a in result["actions"]:
            actions.add_row(a["action_id"], a["status"], a["risk"], a["title"], a["detail"])
        Console().print(table, actions)
    statuses = {a["status"] for a in result["actions"]}
    pending = statuses & {"planned", "skipped", "failed", "advice"}
    raise typer.Exit(EXIT_FINDINGS if pending else EXIT_OK)


def recommendations(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Consolidated recommendations with priority actions."""
    result = call("GET", f"{PREFIX}/recommendations", url, 600.0)
    if as_json:
        emit_json(result)
    else:
        table = Table("category", "impact", "effort", "risk", "action")
        for a in result["priority_actions"]:
            table.add_row(a["category"], a["impact"], a["effort"], a["risk"], a["action"])
        Console().print(table)
        for part, reason in result["unavailable"].items():
            err.print(f"{part}: unavailable ({reason})", highlight=False)
    raise typer.Exit(EXIT_FINDINGS if result["priority_actions"] else EXIT_OK)


def benchmark(
    duration_s: Annotated[float, typer.Option("--duration", min=0.5, max=60.0)] = 5.0,
    url: UrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """PostgreSQL, Redis, fsync and CPU latencies (p50/p99 ms, ops/s) and the previous run."""
    params = {"duration_s": duration_s}
    result = call("GET", f"{PREFIX}/benchmark", url, duration_s + 60.0, params=params)
    if as_json:
        emit_json(result)
    else:
        previous = {p["name"]: p for p in (result["previous"] or {}).get("probes", [])}
        table = Table("probe", "p50 ms", "p99 ms", "ops/s", "previous p50 ms", "error")
        for p in result["run"]["probes"]:
            before = previous.get(p["name"], {}).get("p50_ms")
            table.add_row(p["name"], str(p["p50_ms"]), str(p["p99_ms"]), str(p["ops_per_s"]),
                          str(before), p["error"] or "")  # fmt: skip
        Console().print(table)
    failed = any(p["error"] for p in result["run"]["probes"])
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
