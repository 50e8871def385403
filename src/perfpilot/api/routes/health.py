"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from perfpilot.api.deps import State
from perfpilot.api.models import ComponentOut, ReadinessOut
from perfpilot.core.health import HealthState, overall

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessOut)
async def readyz(state: State, response: Response) -> ReadinessOut:
    """Per-component readiness; 503 only when nothing that should run is working."""
    components = state.health()
    verdict = overall(components)
    if verdict is HealthState.UNAVAILABLE:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ReadinessOut(
        status=verdict, components=[ComponentOut.model_validate(c) for c in components]
    )
