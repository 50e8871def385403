"""What every backend does: report the instances it observes and change their number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class BackendError(Exception):
    """The backend could not observe or change the instances; the message says why."""


@dataclass(frozen=True, slots=True)
class Observed:
    """Instances the backend sees now; ``instances`` None when it cannot tell (``reason``).

    ``ready`` is how many of them serve (None when the backend cannot tell apart).
    """

    instances: int | None
    reason: str | None = None
    ready: int | None = None
    detail: str = ""


class ScalingBackend(Protocol):
    """Blocking calls: the scaler runs them in a worker thread."""

    @property
    def kind(self) -> str: ...

    def observe(self) -> Observed:
        """The current count, read from the real system (never the last order)."""
        ...

    def scale(self, desired: int) -> Observed:
        """Ask for ``desired`` instances; returns what is observed afterwards. Raises
        BackendError when the order could not be given."""
        ...
