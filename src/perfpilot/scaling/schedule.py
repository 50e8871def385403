"""Scheduled floors and ceilings: which ``schedule:<name>`` windows are open at a moment.

A window opens when its ``start`` cron fires and closes when its ``end`` cron fires, both read in
the rule's time zone (KEDA's cron scaler, https://keda.sh/docs/latest/scalers/cron/). Open means
the latest start at or before the moment is later than the latest end, so a window that spans
midnight ("0 22 * * *" to "0 6 * * *") needs no special case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]

from perfpilot.core.scaling_config import RuleConfig

# croniter's get_prev is strict; a moment exactly on a fire time belongs to what it starts.
_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The floor and ceiling the open windows impose; None where no window sets one."""

    floor: int | None
    ceiling: int | None
    open_windows: tuple[str, ...]


def _previous(expression: str, moment: datetime, zone: ZoneInfo) -> datetime:
    local = (moment + _EPSILON).astimezone(zone)
    fire: datetime = croniter(expression, local).get_prev(datetime)
    return fire


def window_open(rule: RuleConfig, moment: datetime) -> bool:
    """Whether the schedule rule's window contains ``moment`` (timezone-aware)."""
    if not rule.is_schedule or not rule.enabled or rule.start is None or rule.end is None:
        return False
    zone = ZoneInfo(rule.timezone)
    return _previous(rule.start, moment, zone) > _previous(rule.end, moment, zone)


def schedule_bounds(rules: Sequence[RuleConfig], moment: datetime) -> Bounds:
    """The highest floor and lowest ceiling among the windows open at ``moment``."""
    open_rules = [rule for rule in rules if window_open(rule, moment)]
    floors = [r.min_instances for r in open_rules if r.min_instances is not None]
    ceilings = [r.max_instances for r in open_rules if r.max_instances is not None]
    return Bounds(
        floor=max(floors) if floors else None,
        ceiling=min(ceilings) if ceilings else None,
        open_windows=tuple(rule.name for rule in open_rules),
    )
