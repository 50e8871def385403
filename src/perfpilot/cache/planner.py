"""From what a report read to the plan: TTL decisions per managed namespace and the actions."""

from __future__ import annotations

from perfpilot.cache import keyrank
from perfpilot.cache.client_signal import ClientSignal
from perfpilot.cache.keyname import under_prefixes
from perfpilot.cache.peak import PreloadWindow, preload_window
from perfpilot.cache.plan import (
    CacheAction,
    compress_actions,
    expiry_actions,
    preload_actions,
    ttl_policy_actions,
)
from perfpilot.cache.scope import ManagedScope
from perfpilot.cache.server_info import InfoDelta
from perfpilot.cache.sweep import KeyReading
from perfpilot.cache.ttl_decision import TtlBounds, TtlDecision, TtlEvidence, decide_ttl
from perfpilot.cache.ttlpolicy import TtlPolicy
from perfpilot.core.settings import CacheConfig


class Planner:
    def __init__(self, config: CacheConfig, scope: ManagedScope) -> None:
        self.config = config
        self.scope = scope

    def managed(self, ns: bytes) -> bool:
        return bool(ns) and under_prefixes(ns, self.scope.prefixes)

    def bounds(self) -> TtlBounds:
        c = self.config
        return TtlBounds(
            int(c.ttl_min_s * 1000), int(c.ttl_max_s * 1000), int(c.default_ttl_s * 1000)
        )

    def decisions(
        self, signal: ClientSignal, policies: dict[bytes, TtlPolicy], window: InfoDelta | None
    ) -> list[TtlDecision]:
        evicting = window is not None and window.evicted_keys > 0
        out = []
        for ns, counts in signal.namespaces.items():
            if not self.managed(ns):
                continue
            evidence = TtlEvidence(
                ns, counts.hit_ratio, counts.hits + counts.misses, policies.get(ns), evicting,
                self.config.target_hit_ratio,
            )  # fmt: skip
            out.append(decide_ttl(evidence, self.bounds()))
        return out

    def plan(
        self,
        readings: list[KeyReading],
        ns_of: dict[bytes, bytes],
        decisions: list[TtlDecision],
        policies: dict[bytes, TtlPolicy],
        hot: list[keyrank.RankedKey],
        cold: list[keyrank.RankedKey],
        pttl: dict[bytes, int],
        signal: ClientSignal,
        window: PreloadWindow | None = None,
    ) -> list[CacheAction]:
        if self.scope.empty:
            return []
        c = self.config
        steered = dict(policies)
        steered.update((d.namespace, d.after) for d in decisions)
        # Managed namespaces without a steered policy still get TTLs for keys that have none.
        for ns in set(ns_of.values()):
            if self.managed(ns) and ns not in steered:
                steered[ns] = decide_ttl(
                    TtlEvidence(ns, None, 0, None, False, c.target_hit_ratio), self.bounds()
                ).after
        hot_keys = {k.key for k in hot}
        cold_keys = {k.key for k in cold}
        budget = c.max_writes_per_run
        expiries = expiry_actions(readings, ns_of, steered, hot_keys, cold_keys, self.scope, budget)
        compress_ns = {n.encode() for n in c.compress_namespaces}
        budget -= sum(len(a.expiries) for a in expiries)
        compress = compress_actions(
            readings, ns_of, compress_ns, self.scope, c.compress_min_bytes, budget
        )
        preload = preload_actions(
            [h.key for h in signal.hot], pttl, ns_of, signal.loaders, self.scope,
            window or preload_window(None), c.max_preload_keys,
        )  # fmt: skip
        return [*ttl_policy_actions(decisions), *expiries, *compress, *preload]
