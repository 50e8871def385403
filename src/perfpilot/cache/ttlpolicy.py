"""The TTL policy the service publishes per namespace and the client library applies on SET.

Client-safe: standard library only. Stored in ``perfpilot:ttl-policy`` as
``b"<ttl_ms>,<first_ttl_ms>,<hot_ttl_ms>"`` so reading it needs no JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TtlPolicy:
    """Milliseconds: the usual TTL, the first TTL of a key not seen before, a hot key's TTL."""

    ttl_ms: int
    first_ttl_ms: int
    hot_ttl_ms: int

    def encode(self) -> bytes:
        return f"{self.ttl_ms},{self.first_ttl_ms},{self.hot_ttl_ms}".encode()


def parse_policy(raw: bytes) -> TtlPolicy | None:
    """The policy, or None for a malformed entry (ignored rather than guessed)."""
    parts = raw.split(b",")
    if len(parts) != 3:
        return None
    try:
        ttl, first, hot = (int(p) for p in parts)
    except ValueError:
        return None
    if min(ttl, first, hot) <= 0:
        return None
    return TtlPolicy(ttl, first, hot)


def parse_policies(raw: dict[bytes, bytes]) -> dict[bytes, TtlPolicy]:
    parsed = {ns: parse_policy(value) for ns, value in raw.items()}
    return {ns: policy for ns, policy in parsed.items() if policy is not None}
