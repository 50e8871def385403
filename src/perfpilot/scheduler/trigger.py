"""When a task fires: a five-field cron expression read in an IANA time zone (croniter).

Daylight-saving changes follow Vixie cron: a fixed-hour job whose time falls in the skipped
hour runs right after the change (croniter yields 03:00 for ``30 2 * * *`` on Madrid's
spring-forward day), and in the repeated hour of the autumn change it runs once, not twice.
Jobs whose hour field starts with ``*`` (every hour, every two hours) run in both copies of
the repeated hour, since each is a real hour that passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]

# A repeated hour is never longer than this many candidates for one expression
# (every minute of one hour), so skipping duplicates always ends.
_MAX_SKIPS = 61


class ScheduleError(ValueError):
    """An invalid cron expression or time zone; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


def parse_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ScheduleError naming ``timezone`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError("timezone", f"unknown time zone {name!r}") from exc


# A task scheduled at ``@quiet`` fires daily at the start of the quietest window (best hours).
QUIET = "@quiet"


def quiet_cron(start_hour: int) -> str:
    """The daily cron expression a ``@quiet`` task runs on when the window starts then."""
    return f"0 {start_hour} * * *"


def check_cron(expression: str) -> str:
    """The expression, normalized; ScheduleError naming ``cron_expression`` when invalid."""
    normalized = " ".join(expression.split())
    if normalized == QUIET:
        return normalized
    # Five fields as in the specification; croniter would also take a seconds field, which
    # would make a typo like an extra ``*`` silently run every second.
    if len(normalized.split()) != 5 or not croniter.is_valid(normalized):
        raise ScheduleError(
            "cron_expression",
            f"invalid cron expression {expression!r}; expected five fields"
            " (minute hour day-of-month month day-of-week)",
        )
    return normalized


@dataclass(frozen=True, slots=True)
class CronTrigger:
    """A validated expression in a zone; build it with :meth:`of`."""

    expression: str
    zone: ZoneInfo

    @classmethod
    def of(cls, expression: str, zone: str) -> CronTrigger:
        return cls(check_cron(expression), parse_zone(zone))

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``, in UTC."""
        start = moment.astimezone(self.zone)
        for _ in range(_MAX_SKIPS):
            candidate: datetime = croniter(self.expression, start).get_next(datetime)
            fire = candidate.astimezone(UTC)
            if not self._repeat_of_fixed_time(fire):
                return fire
            start = fire.astimezone(self.zone)
        raise AssertionError(f"no fire time after {moment} for {self.expression!r}")

    def fire_times(self, after: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
        """Fire times in (after, until], oldest first, at most ``limit`` (the newest kept)."""
        fires: list[datetime] = []
        fire = self.next_after(after)
        while fire <= until:
            fires.append(fire)
            if len(fires) > limit:
                fires.pop(0)
            fire = self.next_after(fire)
        return fires

    def _repeat_of_fixed_time(self, fire: datetime) -> bool:
        """Whether ``fire`` is the second copy of a fixed wall time in a repeated hour."""
        hour_field = self.expression.split()[1]
        if hour_field.startswith("*"):
            return False
        local = fire.astimezone(self.zone)
        if local.fold == 0:
            return False
        first = local.replace(fold=0).astimezone(UTC)
        return first != fire
