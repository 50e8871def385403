"""The zone cron expressions are read in when a task names none: PERFORMANCE_TIMEZONE or the host's."""

from __future__ import annotations

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
    try:
        candidates.append((etc / "timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass  # absent on most non-Debian systems; the link below is the usual source
    try:
        target = str((etc / "localtime").readlink())
        candidates.append(target.rpartition(_ZONEINFO_MARKER)[2])
    except OSError:
        pass  # not a symlink (or missing): no zone name to read from it
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
