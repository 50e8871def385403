"""PGTune advice against the server's current ``pg_settings``: what differs, and how to apply it.

Units: https://www.postgresql.org/docs/current/view-pg-settings.html (``unit`` such as ``8kB``,
``kB``, ``MB``, ``ms``); contexts: ``postmaster`` needs a restart, ``sighup``, ``superuser``,
``user`` and the ``backend`` kinds take a reload (``internal`` cannot be changed).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

import psycopg
from psycopg.rows import TupleRow

from perfpilot.database.pgtune import KB_PER_MB, SettingAdvice, format_kb

CURRENT_SETTINGS = """/* perfpilot */ SELECT name, setting, unit, context
FROM pg_settings WHERE name = ANY(%(names)s) ORDER BY name"""

# Only differences above this share of the recommended value are worth a change.
MIN_RELATIVE_DIFFERENCE = 0.05
# Total memory commitment a configuration may promise, as a share of RAM.
MAX_MEMORY_COMMITMENT = 0.8

_KB_PER_UNIT = {"B": 1 / 1024, "kB": 1.0, "8kB": 8.0, "16kB": 16.0, "MB": 1024.0, "GB": 1024.0**2}
_MS_PER_UNIT = {"ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}
_RELOAD_CONTEXTS = {"sighup", "superuser", "user", "backend", "superuser-backend"}


class ApplyBy(StrEnum):
    RELOAD = "reload"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class CurrentSetting:
    """One row of pg_settings."""

    name: str
    setting: str
    unit: str | None
    context: str


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A recommended value that differs from the current one by more than 5 %."""

    name: str
    current: str
    recommended: str
    apply_by: ApplyBy

    @property
    def line(self) -> str:
        return f"{self.name} = {self.recommended}"


def read_current_settings(
    conn: psycopg.Connection[TupleRow], names: Collection[str]
) -> list[CurrentSetting]:
    """pg_settings rows for ``names`` (names the server does not know are absent)."""
    rows = conn.execute(CURRENT_SETTINGS, {"names": list(names)}).fetchall()
    return [CurrentSetting(*row) for row in rows]


def normalized(setting: CurrentSetting, current: Sequence[CurrentSetting] = ()) -> float | str:
    """The value in kB (memory), ms (time), as a number, or lower-case text.

    ``-1`` auto values are resolved as the server does: wal_buffers is 1/32 of shared_buffers
    between 64kB and 16MB, autovacuum_work_mem falls back to maintenance_work_mem.
    """
    if setting.name == "wal_buffers" and setting.setting == "-1":
        shared = _find(current, "shared_buffers")
        if shared is not None:
            return min(max(float(normalized(shared)) / 32, 64.0), 16.0 * KB_PER_MB)
    if setting.name == "autovacuum_work_mem" and setting.setting == "-1":
        maintenance = _find(current, "maintenance_work_mem")
        if maintenance is not None:
            return normalized(maintenance)
    unit = setting.unit or ""
    try:
        number = float(setting.setting)
    except ValueError:
        return setting.setting.lower()
    if unit in _KB_PER_UNIT:
        return number * _KB_PER_UNIT[unit]
    if unit in _MS_PER_UNIT:
        return number * _MS_PER_UNIT[unit]
    return number


def compare(
    advice: Sequence[SettingAdvice], current: Sequence[CurrentSetting]
) -> list[SettingChange]:
    """Advice whose value differs from the current one by more than 5 %, in advice order."""
    changes = []
    for item in advice:
        now = _find(current, item.name)
        if now is None or now.context == "internal":
            continue
        present = normalized(now, current)
        if not _differs(item.value, present):
            continue
        apply_by = ApplyBy.RELOAD if now.context in _RELOAD_CONTEXTS else ApplyBy.RESTART
        changes.append(SettingChange(item.name, _display(now, present), item.display, apply_by))
    return changes


def memory_warnings(
    memory_bytes: int, advice: Sequence[SettingAdvice], current: Sequence[CurrentSetting]
) -> list[str]:
    """Sanity checks of the configuration the advice would leave (advice over current)."""
    ram_kb = memory_bytes / 1024
    config = _numeric_config(advice, current)
    warnings = []
    committed = _memory_commitment_kb(config)
    if committed is not None and committed > MAX_MEMORY_COMMITMENT * ram_kb:
        warnings.append(
            "shared_buffers + max_connections x work_mem + autovacuum_max_workers x"
            f" autovacuum memory = {format_kb(int(committed))}, over"
            f" {MAX_MEMORY_COMMITMENT:.0%} of RAM ({format_kb(int(ram_kb))})"
        )
    if config.get("shared_buffers", 0.0) > 0.4 * ram_kb:
        warnings.append("shared_buffers above 40% of RAM leaves too little for the OS cache")
    if config.get("effective_cache_size", 0.0) > ram_kb:
        warnings.append("effective_cache_size is larger than the host's RAM")
    if config.get("max_connections", 0.0) > 500:
        warnings.append("more than 500 connections: put a pooler (PgBouncer) in front instead")
    if memory_bytes < 256 * 1024**2 or memory_bytes > 100 * 1024**3:
        warnings.append("PGTune's rules are not tuned for hosts under 256MB or over 100GB of RAM")
    return warnings


def _memory_commitment_kb(config: dict[str, float]) -> float | None:
    """shared_buffers + connections x work_mem + autovacuum workers x their memory, in kB."""
    vacuum_mem = config.get("autovacuum_work_mem", -1.0)
    if vacuum_mem < 0:
        vacuum_mem = config.get("maintenance_work_mem", -1.0)
    names = ("shared_buffers", "max_connections", "work_mem", "autovacuum_max_workers")
    if vacuum_mem < 0 or any(name not in config for name in names):
        return None
    return (
        config["shared_buffers"]
        + config["max_connections"] * config["work_mem"]
        + config["autovacuum_max_workers"] * vacuum_mem
    )


def _numeric_config(
    advice: Sequence[SettingAdvice], current: Sequence[CurrentSetting]
) -> dict[str, float]:
    """Numeric settings (kB for memory) with the advice overriding the current values."""
    config: dict[str, float] = {}
    for setting in current:
        value = normalized(setting, current)
        if isinstance(value, float):
            config[setting.name] = value
    for item in advice:
        if isinstance(item.value, int | float):
            config[item.name] = float(item.value)
    return config


def _differs(recommended: int | float | str, present: float | str) -> bool:
    if isinstance(recommended, str) or isinstance(present, str):
        return str(recommended).lower() != str(present).lower()
    if recommended == 0:
        return present != 0
    return abs(present - recommended) / abs(recommended) > MIN_RELATIVE_DIFFERENCE


def _display(setting: CurrentSetting, value: float | str) -> str:
    if isinstance(value, float) and (setting.unit or "") in _KB_PER_UNIT and value.is_integer():
        return format_kb(int(value))
    if setting.unit and isinstance(value, float) and setting.unit in _MS_PER_UNIT:
        return f"{setting.setting}{setting.unit}"
    return setting.setting


def _find(current: Sequence[CurrentSetting], name: str) -> CurrentSetting | None:
    return next((s for s in current if s.name == name), None)
