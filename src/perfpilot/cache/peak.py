"""Preloading before a forecast load peak: how far ahead to look (pure), and the CPU adapter.

Hot keys that would expire before the peak are reloaded through the application's loaders
now, while the service is quiet, instead of all at once under the peak's load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Hot keys expiring within this are worth warming before their next read, peak or not.
PRELOAD_SOON_MS = 60_000
# A peak further out than this is not planned for: the forecast is less sure, and keys warmed
# that early would mostly be rewritten by normal traffic before it comes.
PEAK_HORIZON_MIN = 30.0
CPU = "cpu"


@dataclass(frozen=True, slots=True)
class PreloadWindow:
    """Hot keys missing or expiring within ``soon_ms`` are preloaded; ``why`` says since when."""

    soon_ms: int
    why: str
    minutes_to_peak: float | None = None


def preload_window(
    minutes_to_peak: float | None,
    horizon_min: float = PEAK_HORIZON_MIN,
    soon_ms: int = PRELOAD_SOON_MS,
) -> PreloadWindow:
    """The look-ahead: ``soon_ms``, stretched to a peak forecast within ``horizon_min``."""
    if minutes_to_peak is None or minutes_to_peak > horizon_min:
        return PreloadWindow(soon_ms, f"expire within {soon_ms / 1000:.0f} s")
    peak_ms = max(0.0, minutes_to_peak) * 60_000
    return PreloadWindow(
        int(peak_ms) + soon_ms,
        f"expire before the load peak forecast in {minutes_to_peak:.0f} min",
        minutes_to_peak,
    )


class ResourceForecast(Protocol):
    """The fields of the monitor's ``Forecast`` this adapter reads (matched structurally: the
    cache package does not import the monitor)."""

    @property
    def resource(self) -> str: ...
    @property
    def minutes_to_threshold(self) -> float | None: ...
    @property
    def confidence(self) -> float: ...
    @property
    def reason(self) -> str | None: ...


class CpuPeak:
    """A ``PeakForecast`` from the monitor's forecasts: minutes until CPU crosses its threshold.

    Only a trusted forecast counts, as for predictive alerts: no ``reason`` (the forecaster
    sets one on too few points or a poor fit) and ``confidence`` of at least ``min_confidence``
    (0.8, the monitor's own default).
    """

    def __init__(
        self, latest: Callable[[], Sequence[ResourceForecast]], min_confidence: float = 0.8
    ) -> None:
        self._latest = latest
        self._min_confidence = min_confidence

    def minutes_to_peak(self) -> float | None:
        for f in self._latest():
            if f.resource == CPU and f.reason is None and f.confidence >= self._min_confidence:
                return f.minutes_to_threshold
        return None
