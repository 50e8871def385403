"""From a cache report's inputs to the changes the optimizer could make (pure), each with risk.

Only keys under the managed prefixes are ever planned, and only strings (what a cache client
writes): lists, streams and hashes there may be queues or sessions, and are left alone. The
action functions check the scope again before each write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from perfpilot.cache.codec import HEADER_BYTES
from perfpilot.cache.keyname import display
from perfpilot.cache.peak import PreloadWindow
from perfpilot.cache.scope import ManagedScope
from perfpilot.cache.sweep import KeyReading
from perfpilot.cache.ttl_decision import TtlDecision
from perfpilot.cache.ttlpolicy import TtlPolicy
from perfpilot.core.settings import RiskLevel


class ActionKind(StrEnum):
    TTL_POLICY = "ttl_policy"
    EXPIRE_KEYS = "expire_keys"
    COMPRESS_VALUES = "compress_values"
    PRELOAD = "preload"


@dataclass(frozen=True, slots=True)
class KeyExpiry:
    """PEXPIRE ``key`` ``ttl_ms`` with ``mode``: NX sets a missing TTL, GT only extends, LT only
    shortens, so a race with the application never moves a TTL the wrong way."""

    key: bytes
    ttl_ms: int
    mode: str
    why: str


@dataclass(frozen=True, slots=True)
class CacheAction:
    id: str
    kind: ActionKind
    risk: RiskLevel
    namespace: bytes
    target: str
    statement: str
    reason: str
    expected_effect: str
    decision: TtlDecision | None = None
    expiries: tuple[KeyExpiry, ...] = ()
    keys: tuple[bytes, ...] = ()


def action_id(kind: ActionKind, namespace: bytes) -> str:
    return hashlib.sha256(kind.encode() + b"|" + namespace).hexdigest()[:12]


def ttl_policy_actions(decisions: Sequence[TtlDecision]) -> list[CacheAction]:
    out = []
    for d in decisions:
        if not d.changed:
            continue
        p = d.after
        out.append(
            CacheAction(
                id=action_id(ActionKind.TTL_POLICY, d.namespace),
                kind=ActionKind.TTL_POLICY,
                risk=RiskLevel.LOW,
                namespace=d.namespace,
                target=display(d.namespace),
                statement=f"HSET perfpilot:ttl-policy {display(d.namespace)} {p.encode().decode()}",
                reason=d.reason,
                expected_effect=f"hit ratio moves toward {d.evidence.target:.0%} as keys are "
                f"re-set with the new TTL",
                decision=d,
            )
        )
    return out


def expiry_actions(
    readings: Sequence[KeyReading],
    namespace_of: Mapping[bytes, bytes],
    policies: Mapping[bytes, TtlPolicy],
    hot: Collection[bytes],
    cold: Collection[bytes],
    scope: ManagedScope,
    budget: int,
) -> list[CacheAction]:
    """TTLs for keys without one, longer for hot keys, shorter for cold ones, per namespace."""
    by_ns: dict[bytes, list[KeyExpiry]] = {}
    for r in readings:
        ns = namespace_of[r.key]
        policy = policies.get(ns)
        if policy is None or r.type != "string" or not scope.contains(r.key):
            continue
        expiry = _expiry(r, policy, r.key in hot, r.key in cold)
        if expiry is not None and budget > 0:
            by_ns.setdefault(ns, []).append(expiry)
            budget -= 1
    out = []
    for ns, items in by_ns.items():
        counts = {why: sum(e.why == why for e in items) for why in ("no_ttl", "hot", "cold")}
        summary = ", ".join(f"{n} {why}" for why, n in counts.items() if n)
        out.append(
            CacheAction(
                id=action_id(ActionKind.EXPIRE_KEYS, ns),
                kind=ActionKind.EXPIRE_KEYS,
                risk=RiskLevel.LOW,
                namespace=ns,
                target=display(ns),
                statement=f"PEXPIRE <key> <ms> NX|GT|LT on {len(items)} keys",
                reason=f"{summary} keys in a managed namespace",
                expected_effect="keys without TTL become evictable; hot keys outlive cold ones",
                expiries=tuple(items),
            )
        )
    return out


def _expiry(r: KeyReading, policy: TtlPolicy, hot: bool, cold: bool) -> KeyExpiry | None:
    if r.pttl_ms == -1:
        return KeyExpiry(r.key, policy.ttl_ms, "NX", "no_ttl")
    if r.pttl_ms < 0:
        return None
    if hot and r.pttl_ms < policy.hot_ttl_ms:
        return KeyExpiry(r.key, policy.hot_ttl_ms, "GT", "hot")
    if cold and r.pttl_ms > policy.first_ttl_ms:
        return KeyExpiry(r.key, policy.first_ttl_ms, "LT", "cold")
    return None


def compress_actions(
    readings: Sequence[KeyReading],
    namespace_of: Mapping[bytes, bytes],
    namespaces: Collection[bytes],
    scope: ManagedScope,
    min_bytes: int,
    budget: int,
) -> list[CacheAction]:
    """Rewrite large strings compressed, in namespaces read only through the client library."""
    by_ns: dict[bytes, list[bytes]] = {}
    for r in readings:
        ns = namespace_of[r.key]
        big = (r.memory_bytes or 0) >= min_bytes + HEADER_BYTES
        wanted = ns in namespaces and r.type == "string" and big and scope.contains(r.key)
        if wanted and budget > 0:
            by_ns.setdefault(ns, []).append(r.key)
            budget -= 1
    return [
        CacheAction(
            id=action_id(ActionKind.COMPRESS_VALUES, ns),
            kind=ActionKind.COMPRESS_VALUES,
            risk=RiskLevel.MEDIUM,
            namespace=ns,
            target=display(ns),
            statement=f"WATCH k; GET k; MULTI; SET k <zstd> KEEPTTL; EXEC on {len(keys)} keys",
            reason=f"{len(keys)} string values of at least {min_bytes} bytes; the namespace is "
            "read through perfpilot.cache.client, which decodes zstd values",
            expected_effect="memory and network bytes drop by the measured compression ratio",
            keys=tuple(keys),
        )
        for ns, keys in by_ns.items()
    ]


def preload_actions(
    hot: Sequence[bytes],
    pttl: Mapping[bytes, int],
    namespace_of: Mapping[bytes, bytes],
    loaders: Collection[bytes],
    scope: ManagedScope,
    window: PreloadWindow,
    budget: int,
) -> list[CacheAction]:
    """Hot keys that are missing or expire within the window (to a forecast peak, when one is
    near), where the app has a loader."""
    by_ns: dict[bytes, list[bytes]] = {}
    for key in hot:
        ns = namespace_of[key]
        remaining = pttl.get(key, -2)
        due = remaining == -2 or 0 <= remaining < window.soon_ms
        if due and ns in loaders and scope.contains(key) and budget > 0:
            by_ns.setdefault(ns, []).append(key)
            budget -= 1
    return [
        CacheAction(
            id=action_id(ActionKind.PRELOAD, ns),
            kind=ActionKind.PRELOAD,
            risk=RiskLevel.LOW,
            namespace=ns,
            target=display(ns),
            statement=f"XADD perfpilot:preload:requests for {len(keys)} hot keys",
            reason=f"{len(keys)} hot keys are missing or {window.why}",
            expected_effect="their next reads hit instead of running the loader in the request",
            keys=tuple(keys),
        )
        for ns, keys in by_ns.items()
    ]
