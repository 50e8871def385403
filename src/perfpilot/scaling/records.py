"""Decisions to and from JSON, for the store and the API."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from perfpilot.scaling.model import (
    DecisionSource,
    DemandForecast,
    Direction,
    MetricProposal,
    ScalingDecision,
)


def decision_json(decision: ScalingDecision, executed: bool, outcome: str | None) -> str:
    """The decision, whether it was executed and the execution's outcome, as JSON."""
    body = asdict(decision)
    body["at"] = decision.at.isoformat()
    body["executed"] = executed
    body["outcome"] = outcome
    return json.dumps(body)


def decision_from_json(text: str) -> tuple[ScalingDecision, bool, str | None]:
    """The inverse of :func:`decision_json`."""
    body: dict[str, Any] = json.loads(text)
    executed = bool(body.pop("executed", False))
    outcome = body.pop("outcome", None)
    forecast = body.pop("forecast")
    decision = ScalingDecision(
        **{
            **body,
            "at": datetime.fromisoformat(body["at"]),
            "direction": Direction(body["direction"]),
            "source": DecisionSource(body["source"]),
            "proposals": tuple(MetricProposal(**p) for p in body["proposals"]),
            "schedules": tuple(body["schedules"]),
            "steps": tuple(body["steps"]),
            "forecast": DemandForecast(**forecast) if forecast else None,
        }
    )
    return decision, executed, outcome
