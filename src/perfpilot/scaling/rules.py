"""Partial updates of one rule of one service (``PUT /scaling/rule/{service}/{rule}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from perfpilot.core.errors import NotFoundError
from perfpilot.core.scaling_config import ServiceConfig

# cpu and memory are the specification's fixed targets (target_cpu_percent, ...): always
# addressable, so a disabled one can be enabled again by giving it a target.
_FIXED = {"cpu": "target_cpu_percent", "memory": "target_memory_percent"}
_METRIC_FIELDS = frozenset({"target", "enabled"})
_SCHEDULE_FIELDS = frozenset(
    {"enabled", "start", "end", "timezone", "min_instances", "max_instances"}
)


class RuleUpdateError(ValueError):
    """The update is not valid for the rule; the message names the field and value."""


def known_rule(config: ServiceConfig, rule: str) -> bool:
    return rule in _FIXED or any(r.name == rule for r in config.rules)


def apply_rule_update(config: ServiceConfig, rule: str, fields: Mapping[str, Any]) -> ServiceConfig:
    """The service with ``fields`` changed on ``rule``; NotFoundError for an unknown rule,
    RuleUpdateError for an unknown field or a value the configuration would refuse."""
    if not known_rule(config, rule):
        raise NotFoundError(f"service {config.name} has no rule {rule!r}")
    if not fields:
        raise RuleUpdateError("nothing to update: give at least one field")
    raw = config.model_dump(mode="json")
    if rule in _FIXED:
        _check_fields(rule, fields, _METRIC_FIELDS)
        target = None if fields.get("enabled") is False else fields.get("target", raw[_FIXED[rule]])
        raw[_FIXED[rule]] = target
    else:
        index = next(i for i, r in enumerate(config.rules) if r.name == rule)
        allowed = _SCHEDULE_FIELDS if config.rules[index].is_schedule else _METRIC_FIELDS
        _check_fields(rule, fields, allowed)
        raw["rules"][index] = raw["rules"][index] | dict(fields)
    try:
        return ServiceConfig.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or rule}: {e['msg']}" for e in exc.errors()
        )
        raise RuleUpdateError(f"invalid update of {config.name}/{rule}: {details}") from exc


def _check_fields(rule: str, fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise RuleUpdateError(
            f"rule {rule!r} has no field(s) {unknown}; allowed: {sorted(allowed)}"
        )
