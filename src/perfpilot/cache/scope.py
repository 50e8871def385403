"""Where the Cache Optimizer may write: under the managed prefixes, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

from perfpilot.cache.controlkeys import is_control_key
from perfpilot.cache.keyname import display, under_prefixes


class OutsideScope(PermissionError):
    """A write was about to touch a key outside PERFORMANCE_CACHE_MANAGED_PREFIXES."""


@dataclass(frozen=True, slots=True)
class ManagedScope:
    prefixes: tuple[bytes, ...]

    @classmethod
    def of(cls, prefixes: tuple[str, ...]) -> ManagedScope:
        return cls(tuple(p.encode() for p in prefixes if p))

    @property
    def empty(self) -> bool:
        return not self.prefixes

    def contains(self, key: bytes) -> bool:
        return not is_control_key(key) and under_prefixes(key, self.prefixes)

    def require(self, key: bytes) -> None:
        """Raise OutsideScope unless ``key`` is under a managed prefix (the last guard before
        every write, independent of how the plan was made)."""
        if not self.contains(key):
            raise OutsideScope(f"key {display(key)!r} is outside the managed prefixes")

    def writes(self, role: str) -> str:
        """Where writes go on a server of ``role``, for the report."""
        if self.empty:
            return "disabled: PERFORMANCE_CACHE_MANAGED_PREFIXES is empty (recommend only)"
        if role != "master":
            return f"disabled: the server is a {role} (read-only)"
        return "only under " + ", ".join(display(p) for p in self.prefixes)
