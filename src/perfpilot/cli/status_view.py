"""Gathering and rendering status for the CLI (from a running service or this host)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from perfpilot.api.models import ComponentOut
from perfpilot.cache.connection import check_redis
from perfpilot.core.clock import SystemClock
from perfpilot.core.health import ComponentHealth, HealthState, overall
from perfpilot.core.settings import Settings
from perfpilot.core.urls import redact_url
from perfpilot.core.watch import ConnectionWatch
from perfpilot.database.connection import check_postgres
from perfpilot.monitor.sample import resource_levels
from perfpilot.monitor.sampler import HostSampler

Report = dict[str, Any]


class StatusUnavailable(Exception):
    """The running service could not be asked."""


def remote_status(base_url: str, timeout_s: float = 5.0) -> Report:
    """GET /api/v1/performance/status from a running service."""
    url = f"{base_url.rstrip('/')}/api/v1/performance/status"
    try:
        response = httpx.get(url, timeout=timeout_s)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise StatusUnavailable(
            f"cannot read {url}: {exc} (is `perfpilot serve` running?)"
        ) from exc
    report: Report = response.json()
    return report


def local_status(settings: Settings, cpu_window_s: float = 1.0) -> Report:
    """Sample this host and check the database and cache directly, without a service."""
    clock = SystemClock()
    cfg = settings.file.monitor
    sampler = HostSampler(clock, disk_mounts=cfg.disk_mounts, cgroup_root=cfg.cgroup_root)
    sampler.sample(clock.now(), None)
    # CPU percent is a difference of two readings; a CLI may wait, the service never does.
    connections = asyncio.run(_checks(settings, cpu_window_s))
    sample = sampler.sample(clock.now(), None)
    levels = resource_levels(sample)
    components = [ComponentHealth("monitor", HealthState.OK, checked_at=clock.now()), *connections]
    alerts = settings.file.alerts
    firing = []
    for name, value in sorted(levels.items()):
        rule = getattr(alerts, name.split(":", 1)[0])
        if value >= rule.warning:
            severity = "critical" if value >= rule.critical else "warning"
            firing.append({"resource": name, "severity": severity, "value": round(value, 1)})
    return {
        "status": overall(components).value,
        "timestamp": datetime.now(UTC).isoformat(),
        "components": [ComponentOut.model_validate(c).model_dump(mode="json") for c in components],
        "levels": {name: round(value, 1) for name, value in levels.items()},
        "firing": firing,
    }


async def _checks(settings: Settings, wait_s: float) -> list[ComponentHealth]:
    clock = SystemClock()
    watches = [
        ConnectionWatch(
            "database", "DATABASE_URL", lambda: check_postgres(settings.database_dsn), clock
        ),
        ConnectionWatch("cache", "REDIS_URL", lambda: check_redis(settings.redis_dsn), clock),
    ]
    results = await asyncio.gather(asyncio.sleep(wait_s), *(w.check_once() for w in watches))
    return [r for r in results if isinstance(r, ComponentHealth)]


def is_healthy(report: Report) -> bool:
    """True when everything runs and nothing fires."""
    firing = report.get("firing") or []
    alerts = report.get("active_alerts") or {}
    return report.get("status") == HealthState.OK.value and not firing and not alerts.get("firing")


_STATE_STYLE = {"ok": "green", "degraded": "yellow", "unavailable": "red"}


def render(console: Console, report: Report) -> None:
    """Components table, then levels and firing alerts when present."""
    console.print(f"status: [bold]{report.get('status')}[/bold]  at {report.get('timestamp')}")
    table = Table("component", "state", "reason")
    for component in report.get("components", []):
        state = str(component.get("state"))
        style = _STATE_STYLE.get(state, "dim")
        table.add_row(
            component.get("name"), f"[{style}]{state}[/{style}]", component.get("reason") or ""
        )
    console.print(table)
    if "levels" in report:
        console.print(
            "levels: " + ", ".join(f"{k} {v}%" for k, v in sorted(report["levels"].items())),
            highlight=False,
        )
    for alert in report.get("firing", []):
        console.print(f"[red]{alert['severity']}[/red] {alert['resource']} at {alert['value']}%")
    if "active_alerts" in report:
        console.print(f"firing alerts: {report['active_alerts'].get('firing', 0)}")


def config_summary(settings: Settings) -> dict[str, Any]:
    """The effective settings, secrets masked."""
    data = settings.model_dump(mode="json", exclude={"api_token", "file"})
    data["api_token"] = "set" if settings.api_token else "not set"
    for key in ("database_url", "redis_url", "store_url"):
        if data.get(key):
            data[key] = redact_url(str(data[key]))
    data["alerts"] = settings.file.alerts.model_dump(mode="json")
    data["monitor"] = settings.file.monitor.model_dump(mode="json")
    return data
