"""Models of /api/v1/performance/cache/* (the Cache Optimizer's report and optimize answer).

Key names are shown as text: UTF-8 where they decode, ``\\xNN`` escapes otherwise.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from perfpilot.api.out import Out as _Out
from perfpilot.cache.executor import ActionOutcome
from perfpilot.cache.findings import CacheFinding
from perfpilot.cache.keyrank import RankedKey
from perfpilot.cache.namespaces import NamespaceSummary
from perfpilot.cache.plan import ActionKind, CacheAction
from perfpilot.cache.ports import TtlChange
from perfpilot.cache.report import CacheReport, Recommendation, SweepSummary
from perfpilot.cache.server_info import CommandStat, InfoDelta, SlowEntry
from perfpilot.core.audit import Outcome
from perfpilot.core.settings import RiskLevel

Figure = float | int | str | None


class ServerOut(_Out):
    version: str
    role: str
    uptime_s: int
    maxmemory_bytes: int
    maxmemory_policy: str
    used_memory_bytes: int
    used_memory_rss_bytes: int
    fragmentation_ratio: float | None
    evicted_keys: int
    expired_keys: int
    ops_per_s: float
    keys: int
    expires: int


class WindowOut(_Out):
    seconds: float
    hits: int
    misses: int
    hit_ratio: float | None = Field(description="Keyspace hit ratio, perfpilot's lookups removed")
    evicted_keys: int
    expired_keys: int
    commands: int
    own_lookups: int = Field(description="perfpilot's own lookups subtracted from hits/misses")

    @classmethod
    def of(cls, d: InfoDelta) -> WindowOut:
        return cls(
            seconds=d.seconds, hits=d.hits, misses=d.misses, hit_ratio=d.hit_ratio,
            evicted_keys=d.evicted_keys, expired_keys=d.expired_keys, commands=d.commands,
            own_lookups=d.own_lookups,
        )  # fmt: skip


class NamespaceOut(_Out):
    name: str
    managed: bool
    keys: int
    memory_bytes: int
    size_p50_bytes: float | None
    size_p90_bytes: float | None
    size_p99_bytes: float | None
    types: dict[str, int]
    ttl_buckets: dict[str, int]
    without_ttl: int
    hit_ratio: float | None = Field(description="From client counters, last 5 min; null: no data")
    lookups: int | None
    compression_saved_bytes: int | None

    @classmethod
    def of(cls, n: NamespaceSummary) -> NamespaceOut:
        return cls.model_validate(n)


class KeyOut(_Out):
    name: str
    type: str
    memory_bytes: int | None
    elements: int | None
    pttl_ms: int | None
    score: float
    signal: str | None
    confidence: float
    basis: str

    @classmethod
    def of(cls, k: RankedKey) -> KeyOut:
        return cls.model_validate(k)


class FindingOut(_Out):
    check: str
    severity: str
    subject: str
    message: str
    evidence: dict[str, Figure]
    expected_effect: str

    @classmethod
    def of(cls, f: CacheFinding) -> FindingOut:
        return cls.model_validate(f)


class RecommendationOut(_Out):
    title: str
    evidence: dict[str, Figure]
    expected_effect: str
    action_id: str | None

    @classmethod
    def of(cls, r: Recommendation) -> RecommendationOut:
        return cls.model_validate(r)


class ActionOut(_Out):
    id: str
    kind: ActionKind
    risk: RiskLevel
    target: str
    statement: str
    reason: str
    expected_effect: str
    keys: int

    @classmethod
    def of(cls, a: CacheAction) -> ActionOut:
        return cls(
            id=a.id, kind=a.kind, risk=a.risk, target=a.target, statement=a.statement,
            reason=a.reason, expected_effect=a.expected_effect,
            keys=len(a.expiries) or len(a.keys),
        )  # fmt: skip


class TtlChangeOut(_Out):
    id: str
    namespace: str
    at: datetime
    before_ttl_ms: int | None
    after_ttl_ms: int
    hit_ratio_before: float | None
    hit_ratio_after: float | None
    judged_at: datetime | None
    reason: str

    @classmethod
    def of(cls, c: TtlChange) -> TtlChangeOut:
        return cls.model_validate(c)


class CacheReportOut(_Out):
    generated_at: datetime
    target: str
    server: ServerOut
    window: WindowOut | None
    sweep: SweepSummary
    namespaces: list[NamespaceOut]
    big_keys: list[KeyOut]
    hot_keys: list[KeyOut]
    cold_keys: list[KeyOut]
    commands: list[CommandStat]
    slowlog: list[SlowEntry]
    findings: list[FindingOut]
    recommendations: list[RecommendationOut]
    clients: int
    client_window_s: int
    managed_prefixes: list[str]
    writes: str
    actions: list[ActionOut]
    ttl_changes: list[TtlChangeOut]

    @classmethod
    def of(cls, r: CacheReport) -> CacheReportOut:
        return cls(
            generated_at=r.generated_at,
            target=r.target,
            server=ServerOut.model_validate(r.server),
            window=WindowOut.of(r.window) if r.window else None,
            sweep=r.sweep,
            namespaces=[NamespaceOut.of(n) for n in r.namespaces],
            big_keys=[KeyOut.of(k) for k in r.big_keys],
            hot_keys=[KeyOut.of(k) for k in r.hot_keys],
            cold_keys=[KeyOut.of(k) for k in r.cold_keys],
            commands=list(r.commands),
            slowlog=list(r.slowlog),
            findings=[FindingOut.of(f) for f in r.findings],
            recommendations=[RecommendationOut.of(x) for x in r.recommendations],
            clients=r.clients,
            client_window_s=r.client_window_s,
            managed_prefixes=list(r.managed_prefixes),
            writes=r.writes,
            actions=[ActionOut.of(a) for a in r.actions],
            ttl_changes=[TtlChangeOut.of(c) for c in r.ttl_changes],
        )


class CacheOutcomeOut(_Out):
    id: str
    kind: ActionKind
    risk: RiskLevel
    target: str
    statement: str
    outcome: Outcome
    detail: str
    before: dict[str, Figure]
    after: dict[str, Figure] = Field(description="Measured effect (bytes, keys changed, warmed)")

    @classmethod
    def of(cls, o: ActionOutcome) -> CacheOutcomeOut:
        a = o.action
        return cls(
            id=a.id, kind=a.kind, risk=a.risk, target=a.target, statement=a.statement,
            outcome=o.outcome, detail=o.detail, before=o.before, after=o.after,
        )  # fmt: skip


class CacheOptimizeOut(_Out):
    applied: bool = Field(description="False when the request only planned (force=false)")
    outcomes: list[CacheOutcomeOut]
    report: CacheReportOut
