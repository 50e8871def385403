"""`perfpilot cache report|optimize`: the Cache Optimizer from the terminal, on any Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import redis.asyncio as aioredis
import typer
from rich.console import Console
from rich.table import Table

from perfpilot.api.cache_models import CacheOutcomeOut, CacheReportOut
from perfpilot.app import build_cache_optimizer
from perfpilot.cache.optimizer import CacheOptimizer, UnknownActions
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
from perfpilot.store.factory import open_store

cache_cli = typer.Typer(help="Cache Optimizer: Redis usage report, hot/cold/big keys, optimize.")

UrlOption = Annotated[str | None, typer.Option("--url", help="Redis URL (default REDIS_URL).")]
T = TypeVar("T")


@contextmanager
def _optimizer(url: str | None) -> Iterator[CacheOptimizer]:
    settings = load_or_exit()
    store = open_store(settings.store_url)
    try:
        store.migrate()
        yield build_cache_optimizer(settings, store, SystemClock(), url=url)
    finally:
        store.close()


def _run(message: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``work`` under a spinner; a Redis error exits 2 with its message."""

    async def run() -> T:
        return await work()

    return with_progress(message, lambda: asyncio.run(run()), (aioredis.RedisError, OSError))


@cache_cli.command("report")
def report(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """Namespaces, big/hot/cold keys, findings, recommendations and the plan."""
    with _optimizer(url) as optimizer:
        result = _run("sweeping the keyspace…", optimizer.report)
    out = CacheReportOut.of(result)
    if as_json:
        emit_json(out.model_dump(mode="json"))
    else:
        _render(Console(), out)
    serious = [f for f in out.findings if f.severity in ("warning", "critical")]
    raise typer.Exit(EXIT_FINDINGS if serious or out.actions else EXIT_OK)


@cache_cli.command("optimize")
def optimize(
    url: UrlOption = None,
    force: ForceFlag = False,
    action: ActionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan the optimizer's actions, or apply them with --force."""
    trigger = Trigger.FORCED if force else Trigger.REQUEST
    with _optimizer(url) as optimizer:
        try:
            _, outcomes = _run(
                "applying…" if force else "planning…",
                lambda: optimizer.optimize(trigger, action),
            )
        except UnknownActions as exc:
            fail(exc)
    rows = [CacheOutcomeOut.of(o) for o in outcomes]
    finish_outcomes(rows, ("id", "kind", "risk", "target", "outcome", "detail"), as_json)


def _render(console: Console, out: CacheReportOut) -> None:
    s = out.server
    console.print(
        f"[bold]{out.target}[/bold] Redis {s.version} ({s.role}), policy {s.maxmemory_policy}, "
        f"{s.used_memory_bytes / 1e6:.1f} MB used, {s.keys} keys",
        highlight=False,
    )
    w = out.sweep
    console.print(
        f"sweep: {w.keys_read} keys in {w.duration_s:.2f} s ({w.stopped_by}), signal {w.signal};"
        f" writes: {out.writes}",
        highlight=False,
    )
    if out.window and out.window.hit_ratio is not None:
        console.print(
            f"hit ratio {out.window.hit_ratio:.1%} over {out.window.seconds:.0f} s "
            f"({out.window.own_lookups} own lookups subtracted)",
            highlight=False,
        )
    ns = Table("namespace", "keys", "MB", "p50 B", "no TTL", "hit ratio", title="namespaces")
    for n in out.namespaces[:20]:
        ratio = "n/a" if n.hit_ratio is None else f"{n.hit_ratio:.1%}"
        p50 = "n/a" if n.size_p50_bytes is None else f"{n.size_p50_bytes:.0f}"
        ns.add_row(
            n.name, str(n.keys), f"{n.memory_bytes / 1e6:.2f}", p50, str(n.without_ttl), ratio
        )
    console.print(ns)
    for title, keys in (("big keys", out.big_keys), ("hot keys", out.hot_keys)):
        table = Table("key", "type", "bytes", "elements", "score", "signal", title=title)
        for k in keys[:10]:
            elements = "" if k.elements is None else str(k.elements)
            table.add_row(
                k.name, k.type, str(k.memory_bytes), elements, f"{k.score:.0f}", str(k.signal)
            )
        console.print(table)
    findings = Table("severity", "check", "subject", "message", title="findings")
    for f in out.findings:
        findings.add_row(f.severity, f.check, f.subject, f.message)
    console.print(findings)
    actions = Table("id", "kind", "risk", "target", "keys", title="plan (cache optimize --force)")
    for a in out.actions:
        actions.add_row(a.id, a.kind, a.risk, a.target, str(a.keys))
    console.print(actions)
