"""`perfpilot scaling status|evaluate|simulate`: the Auto Scaler from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from perfpilot.core.errors import ConfigError
from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.core.settings import read_config_file
from perfpilot.scaling.simulate import (
    CapacityModel,
    SimulationResult,
    hpa_policy,
    perfpilot_policy,
    simulate,
)
from perfpilot.scaling.trace import TraceError, read_trace

scaling_cli = typer.Typer(help="Auto Scaler: status, evaluate, simulate a trace.")

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Base URL of a running perfpilot (default settings).")
]
API = "/api/v1/performance/scaling"


def _request(method: str, url: str | None, path: str) -> dict[str, object]:
    settings = load_or_exit()
    base = url or f"http://{settings.host}:{settings.port}"
    headers = {}
    if settings.api_token is not None:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    try:
        response = httpx.request(method, base + API + path, headers=headers, timeout=30)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc
    body: dict[str, object] = response.json()
    return body


def _decisions_table(decisions: list[dict[str, object]]) -> Table:
    table = Table("service", "current", "desired", "confidence", "acts", "reason")
    for d in decisions:
        table.add_row(
            str(d["service"]),
            str(d["current"]),
            str(d["desired"]),
            f"{float(str(d['confidence'])):.2f}",
            "yes" if d["actionable"] else "no",
            str(d["reason"]),
        )
    return table


@scaling_cli.command("status")
def status(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Services, observed and desired counts, cooldowns left, from a running service."""
    body = _request("GET", url, "/status")
    if as_json:
        emit_json(body)
        raise typer.Exit(EXIT_OK)
    table = Table("service", "tier", "backend", "current", "desired", "cooldown up/down s")
    services = body["services"]
    assert isinstance(services, list)
    for s in services:
        cooldowns = (
            f"{s['scale_up_cooldown_remaining_s']:.0f}/{s['scale_down_cooldown_remaining_s']:.0f}"
        )
        current = s["current"] if s["current"] is not None else f"unknown ({s['current_reason']})"
        table.add_row(
            s["name"], s["tier"], s["backend"], str(current), str(s["desired"]), cooldowns
        )
    console = Console()
    console.print(f"auto scaling: {'on' if body['auto_scaling_enabled'] else 'recommend only'}")
    console.print(table)


@scaling_cli.command("evaluate")
def evaluate(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Decisions for every service now (recorded, not executed)."""
    body = _request("POST", url, "/evaluate")
    decisions = body["decisions"]
    assert isinstance(decisions, list)
    if as_json:
        emit_json(decisions)
    else:
        Console().print(_decisions_table(decisions))
    moving = any(d["direction"] != "hold" for d in decisions)
    raise typer.Exit(EXIT_FINDINGS if moving else EXIT_OK)


@scaling_cli.command("simulate")
def simulate_trace(
    trace: Annotated[Path, typer.Option("--trace", help="CSV: timestamp, requests_per_second.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default PERFORMANCE_CONFIG_FILE).")
    ] = None,
    service: Annotated[str | None, typer.Option(help="Service name (default the first).")] = None,
    rps_per_instance: Annotated[
        float, typer.Option(min=0.001, help="Requests/s one instance serves at target CPU.")
    ] = 100.0,
    startup_s: Annotated[
        float | None, typer.Option(help="Seconds until a new instance serves.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replay a load trace through the service's rules, side by side with the plain HPA."""
    chosen = _service(config, service)
    model = CapacityModel(
        rps_per_instance, startup_s if startup_s is not None else chosen.startup_s
    )
    try:
        points = read_trace(trace)
    except TraceError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc
    with err.status("simulating…"):
        results = [
            simulate(points, perfpilot_policy(chosen, model), model, "perfpilot"),
            simulate(points, hpa_policy(chosen, model), model, "hpa", gate_confidence=False),
        ]
    if as_json:
        emit_json([_as_dict(r) for r in results])
    else:
        _render(chosen, model, results)


def _as_dict(result: SimulationResult) -> dict[str, object]:
    return {name: getattr(result, name) for name in SimulationResult.__slots__}


def _service(config: Path | None, name: str | None) -> ServiceConfig:
    try:
        file = read_config_file(config) if config is not None else load_or_exit().file
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from exc
    services = file.scaling.services
    if not services:
        err.print("[red]error:[/red] no [[scaling.services]] in the configuration", markup=True)
        raise typer.Exit(EXIT_ERROR)
    if name is None:
        return services[0]
    found = next((s for s in services if s.name == name), None)
    if found is None:
        err.print(f"[red]error:[/red] no service {name!r} in the configuration", markup=True)
        raise typer.Exit(EXIT_ERROR)
    return found


def _render(service: ServiceConfig, model: CapacityModel, results: list[SimulationResult]) -> None:
    console = Console()
    console.print(
        f"{service.name}: {model.rps_per_instance:g} rps per instance at target,"
        f" {model.startup_s:g}s start-up,"
        f" {service.min_instances}-{service.max_instances} instances",
        highlight=False,
    )
    table = Table("policy", "instance-hours", "minutes over target", "reversals", "actions", "peak")
    for r in results:
        table.add_row(
            r.policy,
            f"{r.instance_hours:.2f}",
            f"{r.minutes_over_target:.2f}",
            str(r.reversals),
            str(r.scale_actions),
            str(r.peak_instances),
        )
    console.print(table)
