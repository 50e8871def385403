"""The Cache Optimizer's report and the recommendations drawn from its findings and plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from perfpilot.cache.findings import CacheFinding, Evidence
from perfpilot.cache.keyrank import RankedKey
from perfpilot.cache.namespaces import NamespaceSummary
from perfpilot.cache.plan import CacheAction
from perfpilot.cache.ports import TtlChange
from perfpilot.cache.server_info import CommandStat, InfoDelta, ServerSnapshot, SlowEntry
from perfpilot.cache.sweep import SweepResult

if TYPE_CHECKING:
    from perfpilot.cache.executor import ActionOutcome


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """The sweep behind the report; ``keys_in_pass`` covers the whole pass when it resumed."""

    keys_read: int
    keys_in_pass: int
    complete: bool
    cursor: int
    stopped_by: str
    duration_s: float
    keys_per_s: float | None
    paused_s: float
    server_cpu_s: float
    own_hits: int
    own_misses: int
    mode: str
    signal: str
    no_touch: bool

    @classmethod
    def of(cls, r: SweepResult, in_pass: int, lfu: bool, no_touch: bool) -> SweepSummary:
        return cls(
            keys_read=len(r.readings),
            keys_in_pass=in_pass,
            complete=r.complete,
            cursor=r.cursor,
            stopped_by=r.stopped_by,
            duration_s=r.duration_s,
            keys_per_s=r.keys_per_s,
            paused_s=r.paused_s,
            server_cpu_s=r.server_cpu_s,
            own_hits=r.own_hits,
            own_misses=r.own_misses,
            mode=r.mode,
            signal="object_freq" if lfu else "object_idletime",
            no_touch=no_touch,
        )


@dataclass(frozen=True, slots=True)
class Recommendation:
    title: str
    evidence: Evidence
    expected_effect: str
    action_id: str | None = None


@dataclass(frozen=True, slots=True)
class CacheReport:
    generated_at: datetime
    target: str
    server: ServerSnapshot
    window: InfoDelta | None
    sweep: SweepSummary
    namespaces: tuple[NamespaceSummary, ...]
    big_keys: tuple[RankedKey, ...]
    hot_keys: tuple[RankedKey, ...]
    cold_keys: tuple[RankedKey, ...]
    commands: tuple[CommandStat, ...]
    slowlog: tuple[SlowEntry, ...]
    findings: tuple[CacheFinding, ...]
    recommendations: tuple[Recommendation, ...]
    clients: int
    client_window_s: int
    managed_prefixes: tuple[str, ...]
    writes: str
    actions: tuple[CacheAction, ...]
    ttl_changes: tuple[TtlChange, ...] = field(default=())


def recommendations(
    findings: Sequence[CacheFinding], actions: Sequence[CacheAction]
) -> list[Recommendation]:
    """Every planned action, then every finding that says what fixing it would bring."""
    out = []
    for a in actions:
        evidence: Evidence = {"statement": a.statement, "risk": a.risk.value}
        evidence["keys"] = len(a.expiries) or len(a.keys)
        title = f"{a.kind.value} on {a.target}: {a.reason}"
        out.append(Recommendation(title, evidence, a.expected_effect, a.id))
    out += [
        Recommendation(title=f.message, evidence=f.evidence, expected_effect=f.expected_effect)
        for f in findings
        if f.expected_effect
    ]
    return out


def run_summary(report: CacheReport, outcomes: Sequence[ActionOutcome]) -> str:
    """One line for the scheduler's run history: what was swept, found and done."""
    ratio = report.window.hit_ratio if report.window else None
    by_outcome: dict[str, int] = {}
    for o in outcomes:
        by_outcome[o.outcome.value] = by_outcome.get(o.outcome.value, 0) + 1
    return (
        f"swept {report.sweep.keys_read} keys ({report.sweep.stopped_by}, "
        f"{report.sweep.keys_in_pass} in pass); server hit ratio "
        + ("n/a" if ratio is None else f"{ratio:.1%}")
        + f"; {len(report.namespaces)} namespaces, {len(report.findings)} findings; "
        f"actions: {by_outcome or 'none planned'}"
    )
