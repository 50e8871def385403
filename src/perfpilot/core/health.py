"""Component health as /readyz and /status report it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"
    DISABLED = "disabled"
    NOT_CONFIGURED = "not_configured"


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """One component's state; ``reason`` is set whenever the state is not ok."""

    name: str
    state: HealthState
    reason: str | None = None
    checked_at: datetime | None = None
    details: dict[str, str | int | float | bool | None] = field(default_factory=dict)


class HealthSource(Protocol):
    """Anything that can report its own health without I/O (state is kept by its loop)."""

    def health(self) -> ComponentHealth: ...


def overall(states: list[ComponentHealth]) -> HealthState:
    """Worst state among the components that are meant to run."""
    running = [
        c.state for c in states if c.state not in (HealthState.DISABLED, HealthState.NOT_CONFIGURED)
    ]
    if HealthState.UNAVAILABLE in running:
        return HealthState.DEGRADED if HealthState.OK in running else HealthState.UNAVAILABLE
    if HealthState.DEGRADED in running:
        return HealthState.DEGRADED
    return HealthState.OK


class NotInstalled:
    """A component this version does not ship yet: listed as not_configured, with the reason."""

    def __init__(self, name: str) -> None:
        self.name = name

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            self.name, HealthState.NOT_CONFIGURED, reason="not installed in this version"
        )
