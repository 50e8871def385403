"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from perfpilot.api.state import ServiceState


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.perfpilot
    return state


State = Annotated[ServiceState, Depends(_state)]
