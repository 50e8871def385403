"""What the application-metrics reader returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ALL_ENDPOINTS = "*"


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """One endpoint over the window between two scrapes (or a Prometheus range).

    Latencies are in seconds; each is None when no request was observed in the window.
    ``error_rate`` is the share of responses with status 5xx (None without requests).
    """

    endpoint: str
    requests: float
    request_rate_per_s: float
    error_rate: float | None
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None


@dataclass(frozen=True, slots=True)
class AppSnapshot:
    """Per-endpoint stats plus the ``*`` total; ``reason`` says why they are missing."""

    at: datetime
    window_s: float
    endpoints: tuple[EndpointStats, ...]
    reason: str | None = None

    def total(self) -> EndpointStats | None:
        return next((e for e in self.endpoints if e.endpoint == ALL_ENDPOINTS), None)
