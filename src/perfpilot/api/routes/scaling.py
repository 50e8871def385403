"""/api/v1/performance/scaling: the Auto Scaler's status, evaluate, execute and rule updates."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError

from perfpilot.api.auth import Writer
from perfpilot.api.deps import State
from perfpilot.api.models import OptimizeIn
from perfpilot.api.scaling_models import (
    DecisionOut,
    EvaluateOut,
    ExecuteIn,
    ExecuteOut,
    ExecutionOut,
    RecordedDecisionOut,
    RuleUpdateIn,
    ScalingStatusOut,
    ServiceStatusOut,
)
from perfpilot.api.state import ServiceState
from perfpilot.core.errors import NotFoundError
from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.rules import RuleUpdateError
from perfpilot.scaling.scaler import AutoScaler, cooldown_left_s

router = APIRouter(prefix="/api/v1/performance/scaling", tags=["scaling"])


def _scaler(state: ServiceState) -> AutoScaler:
    if state.scaler is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the auto scaler is not built")
    return state.scaler


@router.get("/status", response_model=ScalingStatusOut)
async def scaling_status(state: State) -> ScalingStatusOut:
    """Service configs, observed and desired counts, cooldowns left and recent decisions."""
    scaler = _scaler(state)
    now = state.clock.now()
    services = []
    for runtime in scaler.runtimes():
        cfg, observed, decision = runtime.config, runtime.observed, runtime.decision
        up_left, down_left = cooldown_left_s(runtime, now)
        services.append(
            ServiceStatusOut(
                name=cfg.name,
                tier=cfg.tier.value,
                backend=runtime.backend.kind,
                current=observed.instances if observed else None,
                current_reason=observed.reason if observed else "not observed yet",
                desired=decision.desired if decision and decision.current > 0 else None,
                min_instances=cfg.min_instances,
                max_instances=cfg.max_instances,
                scale_up_cooldown_remaining_s=up_left,
                scale_down_cooldown_remaining_s=down_left,
                last_decision=DecisionOut.model_validate(decision) if decision else None,
            )
        )
    return ScalingStatusOut(
        auto_scaling_enabled=scaler.enabled,
        evaluation_interval_s=scaler.config.evaluation_interval_s,
        service_configs=[r.config for r in scaler.runtimes()],
        services=services,
        recent_decisions=[RecordedDecisionOut.model_validate(r) for r in scaler.recent(50)],
    )


@router.post("/evaluate", response_model=EvaluateOut)
async def scaling_evaluate(state: State, _: Writer) -> EvaluateOut:
    """Decisions for every service now, recorded, without acting."""
    decisions = await asyncio.to_thread(_scaler(state).evaluate)
    return EvaluateOut(decisions=[DecisionOut.model_validate(d) for d in decisions])


async def _execute_in(request: Request) -> ExecuteIn:
    """The shared ``{"force", "actions"}`` body (actions = decision ids), or the older
    ``{"force", "decision_ids"}``; read as JSON whatever the Content-Type says."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
        if isinstance(data, dict) and "decision_ids" in data:
            return ExecuteIn.model_validate(data)
        shared = OptimizeIn.model_validate(data)
    except json.JSONDecodeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"body is not JSON: {exc}"
        ) from exc
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, jsonable_encoder(exc.errors(include_url=False))
        ) from exc
    return ExecuteIn(decision_ids=shared.actions, force=shared.force)


@router.post("/execute", response_model=ExecuteOut)
async def scaling_execute(
    state: State, _: Writer, body: Annotated[ExecuteIn, Depends(_execute_in)]
) -> ExecuteOut:
    """Carry out a fresh evaluation, or the named decisions; ``force`` includes decisions below
    their tier's confidence. Bounds, cooldowns and stabilization hold either way."""
    request = body
    scaler = _scaler(state)
    try:
        results = await asyncio.to_thread(scaler.execute, request.decision_ids, request.force)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return ExecuteOut(executions=[ExecutionOut.model_validate(r) for r in results])


@router.put("/rule/{service}/{rule}", response_model=ServiceConfig)
async def scaling_rule_update(
    state: State, _: Writer, service: str, rule: str, body: RuleUpdateIn
) -> ServiceConfig:
    """Partial update of one rule (``cpu``, ``memory``, a metric rule or ``schedule:<name>``);
    validated like the config file, persisted and audited."""
    fields = body.model_dump(exclude_unset=True)
    scaler = _scaler(state)
    try:
        return await asyncio.to_thread(scaler.update_rule, service, rule, fields)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except RuleUpdateError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
