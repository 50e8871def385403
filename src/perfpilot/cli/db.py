"""`perfpilot db report|advise|optimize`: the Database Tuner from the terminal, on any database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from perfpilot.api.database_models import DatabaseReportOut, OutcomeOut
from perfpilot.app import build_tuner
from perfpilot.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    ActionOption,
    ForceFlag,
    JsonFlag,
    emit_json,
    fail,
    finish_outcomes,
    load_or_exit,
    with_progress,
)
from perfpilot.core.clock import SystemClock
from perfpilot.core.risk import Trigger
from perfpilot.database.tuner import DatabaseTuner, TunerReport, UnknownActions
from perfpilot.store.factory import open_store

db_cli = typer.Typer(help="Database Tuner: report, index and configuration advice, optimize.")

DsnOption = Annotated[
    str | None, typer.Option("--dsn", help="PostgreSQL URL (default DATABASE_URL).")
]
T = TypeVar("T")


@contextmanager
def _tuner(dsn: str | None) -> Iterator[DatabaseTuner]:
    settings = load_or_exit()
    store = open_store(settings.store_url)
    try:
        store.migrate()
        yield build_tuner(settings, store, SystemClock(), dsn=dsn)
    finally:
        store.close()


def _has_findings(report: TunerReport) -> bool:
    serious = [f for f in report.health.findings if f.severity.value in ("warning", "critical")]
    return bool(serious or report.actions)


@db_cli.command("report")
def report(dsn: DsnOption = None, as_json: JsonFlag = False) -> None:
    """Everything: workload, health checks, advice and the action plan."""
    with _tuner(dsn) as tuner:
        result = with_progress("reading the database…", tuner.report, (psycopg.Error,))
    out = DatabaseReportOut.of(result)
    if as_json:
        emit_json(out.model_dump(mode="json"))
    else:
        _render_report(Console(), out)
    raise typer.Exit(EXIT_FINDINGS if _has_findings(result) else EXIT_OK)


@db_cli.command("advise")
def advise(dsn: DsnOption = None, as_json: JsonFlag = False) -> None:
    """Index and configuration advice only."""
    with _tuner(dsn) as tuner:
        result = with_progress("costing index candidates…", tuner.report, (psycopg.Error,))
    out = DatabaseReportOut.of(result)
    if as_json:
        emit_json(
            out.model_dump(
                mode="json",
                include={"indexes", "indexes_reason", "configuration", "configuration_warnings"},
            )
        )
    else:
        console = Console()
        _render_indexes(console, out)
        _render_configuration(console, out)
    has_advice = bool(result.configuration or (result.indexes and result.indexes.recommendations))
    raise typer.Exit(EXIT_FINDINGS if has_advice else EXIT_OK)


@db_cli.command("optimize")
def optimize(
    dsn: DsnOption = None,
    force: ForceFlag = False,
    action: ActionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan the tuner's actions, or apply them with --force."""
    trigger = Trigger.FORCED if force else Trigger.REQUEST
    with _tuner(dsn) as tuner:
        try:
            _, outcomes = with_progress(
                "planning…" if not force else "applying…",
                lambda: tuner.optimize(trigger, action),
                (psycopg.Error,),
            )
        except UnknownActions as exc:
            fail(exc)
    rows = [OutcomeOut.of(o) for o in outcomes]
    finish_outcomes(rows, ("id", "kind", "risk", "outcome", "statement", "detail"), as_json)


def _render_report(console: Console, out: DatabaseReportOut) -> None:
    console.print(
        f"[bold]{out.database}[/bold] (PostgreSQL {out.server_version}) at {out.generated_at}"
    )
    console.print(f"workload: {out.workload.status} — {out.workload.window}", highlight=False)
    for remedy in out.workload.remedies:
        console.print(f"  fix: {remedy}", highlight=False)
    statements = Table("calls", "mean ms", "total ms", "query", title="top statements")
    for s in out.statements[:10]:
        mean = "n/a" if s.mean_ms is None else f"{s.mean_ms:.2f}"
        statements.add_row(str(s.calls), mean, f"{s.total_ms:.0f}", s.query[:80])
    console.print(statements)
    findings = Table("severity", "check", "subject", "message", title="health checks")
    for check in out.checks:
        for f in check.findings:
            findings.add_row(f.severity.value, f.check, f.subject, f.message)
    console.print(findings)
    _render_indexes(console, out)
    _render_configuration(console, out)
    actions = Table("id", "kind", "risk", "target", title="plan (apply with db optimize --force)")
    for a in out.actions:
        actions.add_row(a.id, a.kind, a.risk, a.target)
    console.print(actions)


def _render_indexes(console: Console, out: DatabaseReportOut) -> None:
    if out.indexes is None:
        console.print(f"indexes: {out.indexes_reason}", highlight=False)
        return
    label = "verified by HypoPG" if out.indexes.verified else "UNVERIFIED heuristic"
    table = Table("ddl", "queries", "cost", "size", "saved/day", title=f"index advice ({label})")
    for rec in out.indexes.recommendations:
        saved = (
            "n/a"
            if rec.time_saved_ms_per_day is None
            else f"{rec.time_saved_ms_per_day / 1000:.0f} s"
        )
        size = "n/a" if rec.size_bytes is None else f"{rec.size_bytes / 1e6:.1f} MB"
        table.add_row(
            rec.ddl, str(len(rec.queries)), f"{rec.cost_before} -> {rec.cost_after}", size, saved
        )
    console.print(table)
    console.print(
        f"{out.indexes.fingerprints_costed}/{out.indexes.fingerprints} statement groups costed,"
        f" {out.indexes.whatif_costings} what-if costings",
        highlight=False,
    )


def _render_configuration(console: Console, out: DatabaseReportOut) -> None:
    table = Table("setting", "current", "apply by", title="configuration advice (PGTune)")
    for c in out.configuration:
        table.add_row(c.line, c.current, c.apply_by)
    console.print(table)
    for warning in out.configuration_warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
