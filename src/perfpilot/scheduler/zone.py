"""The zone of tasks that name none: PERFORMANCE_TIMEZONE, else the host's zone."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from perfpilot.core.errors import ConfigError
from perfpilot.scheduler.trigger import ScheduleError, parse_zone

_ZONEINFO_MARKER = "zoneinfo/"


def host_zone(etc: Path = Path("/etc"), environ: dict[str, str] | None = None) -> str:
    """The host's IANA zone name: ``TZ``, then /etc/timezone, then the /etc/localtime link.

    Falls back to UTC when none names a known zone (containers often have none). Blocking
    (reads files): call it while building, not on the event loop.
    """
    env = os.environ if environ is None else environ
    candidates = [env.get("TZ", "").lstrip(":")]
    # /etc/timezone is Debian's; elsewhere the /etc/localtime link names the zone. Either may
    # be missing (containers), which leaves the next candidate or UTC.
    with contextlib.suppress(OSError):
        candidates.append((etc / "timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        target = str((etc / "localtime").readlink())
        candidates.append(target.rpartition(_ZONEINFO_MARKER)[2])
    for name in candidates:
        if name and _known(name):
            return name
    return "UTC"


def default_zone(configured: str | None) -> str:
    """PERFORMANCE_TIMEZONE when set (ConfigError if unknown), else the host's zone."""
    if configured is None:
        return host_zone()
    try:
        parse_zone(configured)
    except ScheduleError as exc:
        raise ConfigError(f"PERFORMANCE_TIMEZONE={configured!r}: unknown time zone") from exc
    return configured


def _known(name: str) -> bool:
    try:
        parse_zone(name)
    except ScheduleError:
        return False
    return True
