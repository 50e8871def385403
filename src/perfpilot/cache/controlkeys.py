"""Names of the keys perfpilot itself keeps in the target Redis (client library and service).

Everything lives under ``perfpilot:``; the application's keys are never renamed or shadowed.
Client-safe: standard library only.
"""

from __future__ import annotations

ROOT = b"perfpilot:"
# Per-minute hash of client counters: field b"<counter>:<namespace>" -> integer.
STATS = ROOT + b"stats:"
# Registry of client processes: sorted set member=client id, score=last flush (epoch seconds).
CLIENTS = ROOT + b"clients"
# Per-client sorted set of sampled top-K keys: member=key, score=decayed access count.
HOT = ROOT + b"hot:"
# Hash namespace -> client id: namespaces whose loaders an application registered.
LOADERS = ROOT + b"loaders"
# Hash namespace -> b"<ttl_ms>,<first_ttl_ms>,<hot_ttl_ms>": the TTL policy the service steers.
TTL_POLICY = ROOT + b"ttl-policy"
# Preload requests (service -> application) and results (application -> service).
PRELOAD_REQUESTS = ROOT + b"preload:requests"
PRELOAD_RESULTS = ROOT + b"preload:results"
PRELOAD_GROUP = "perfpilot-preload"
# Single-flight leases: lease key of an application key.
LEASE = ROOT + b"lease:"

STATS_TTL_S = 3600
HOT_TTL_S = 900


def stats_key(epoch_minute: int) -> bytes:
    return STATS + str(epoch_minute).encode()


def hot_key(client_id: str) -> bytes:
    return HOT + client_id.encode()


def lease_key(key: bytes) -> bytes:
    return LEASE + key


def is_control_key(key: bytes) -> bool:
    return key.startswith(ROOT)
