"""Prometheus exposition at /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from perfpilot.api.deps import State

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def prometheus_metrics(state: State) -> Response:
    """Text exposition of the app's own registry (sync: runs in the threadpool)."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
