"""API analysis (pure): each endpoint's p95 against ``api_response_time``, and the statements
behind a slow one, correlated in time."""

from __future__ import annotations

from perfpilot.appmetrics.model import ALL_ENDPOINTS
from perfpilot.core.settings import RiskLevel
from perfpilot.optimizer.correlate import StatementLink, statements_behind
from perfpilot.optimizer.ids import action_id
from perfpilot.optimizer.inputs import Inputs, Thresholds
from perfpilot.optimizer.model import (
    Action,
    Category,
    Evidence,
    Executor,
    Finding,
    Level,
    OptimizationType,
    TypeAnalysis,
    answer,
    unavailable,
)

API = OptimizationType.API


def api_analysis(
    inputs: Inputs, limits: Thresholds, database_actions: tuple[Action, ...] = ()
) -> TypeAnalysis:
    """Slow endpoints, each with the statements behind it and the database actions for them."""
    snapshot = inputs.app
    if snapshot is None or snapshot.reason is not None:
        reason = inputs.app_reason or (snapshot.reason if snapshot else None)
        return unavailable(API, reason or "no application metrics")
    endpoints = [e for e in snapshot.endpoints if e.endpoint != ALL_ENDPOINTS]
    measured = [e for e in endpoints if e.p95_s is not None]
    worst = max(measured, key=lambda e: e.p95_s or 0.0, default=None)
    figures: Evidence = {
        "endpoints": len(endpoints),
        "threshold_ms": limits.api_response_time_ms,
        "worst_endpoint": worst.endpoint if worst else None,
        "worst_p95_ms": round((worst.p95_s or 0.0) * 1000, 1) if worst else None,
        "window_s": round(snapshot.window_s, 1),
    }
    findings, actions = [], []
    deltas = inputs.database.deltas if inputs.database else ()
    windows = (*inputs.app_history, snapshot)
    for e in measured:
        p95_ms = (e.p95_s or 0.0) * 1000
        if p95_ms <= limits.api_response_time_ms:
            continue
        links = statements_behind(
            e.endpoint, windows, deltas, limits.api_response_time_ms, limits.slow_query_mean_ms
        )
        evidence: Evidence = {
            "p95_ms": round(p95_ms, 1),
            "p99_ms": None if e.p99_s is None else round(e.p99_s * 1000, 1),
            "requests_per_s": round(e.request_rate_per_s, 3),
            "statements": _describe(links),
        }
        findings.append(
            Finding(API, "slow_endpoint", e.endpoint,
                    f"{e.endpoint} p95 {p95_ms:.0f} ms > {limits.api_response_time_ms:g} ms",
                    evidence)
        )  # fmt: skip
        related = _related(links, database_actions)
        actions.append(
            Action(
                action_id("api", "advice", e.endpoint), API, Category.API,
                f"Speed up {e.endpoint} (p95 {p95_ms:.0f} ms)", Level.HIGH, Level.MEDIUM,
                RiskLevel.LOW, Executor.ADVICE, e.endpoint,
                "statements slow in the same periods: " + (_describe(links) or "none found"),
                evidence | {"database_actions": ", ".join(related) or None},
            )
        )  # fmt: skip
    quiet = (
        f"every endpoint's p95 within {limits.api_response_time_ms:g} ms"
        if measured
        else "no requests measured in the window"
    )
    return answer(API, figures, findings, actions, quiet)


def _describe(links: list[StatementLink]) -> str:
    return " | ".join(
        f"{link.query[:80]} (mean {link.mean_ms:.1f} ms, {link.calls} calls"
        + ("" if link.correlation is None else f", r={link.correlation:.2f}")
        + ")"
        for link in links
    )


def _related(links: list[StatementLink], database_actions: tuple[Action, ...]) -> list[str]:
    """Database actions (an index, a vacuum) whose measured statements are behind the endpoint."""
    ids = {q for link in links for q in link.queryids}
    return [a.id for a in database_actions if ids.intersection(a.queryids)]
