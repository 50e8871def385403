"""`perfpilot monitor watch`: a live terminal table fed by a running service."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.live import Live
from rich.table import Table

from perfpilot.cli.status_view import StatusUnavailable


def _fetch(client: httpx.Client, url: str) -> dict[str, Any]:
    try:
        response = client.get(url, params={"minutes": 1, "max_points": 1})
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise StatusUnavailable(
            f"cannot read {url}: {exc} (is `perfpilot serve` running?)"
        ) from exc
    data: dict[str, Any] = response.json()
    return data


def _fmt(value: float | None, unit: str = "", scale: float = 1.0) -> str:
    return "n/a" if value is None else f"{value / scale:,.1f}{unit}"


def table(data: dict[str, Any]) -> Table:
    """One screen of current values."""
    view = Table("resource", "value", title=f"perfpilot monitor ({data.get('monitoring')})")
    current = data.get("current")
    if current is None:
        view.add_row("sample", data.get("current_reason") or "none yet")
        return view
    cpu, memory, io = current["cpu"], current["memory"], current["io"]
    view.add_row("cpu", _fmt(cpu["percent"], " %"))
    view.add_row("load", " ".join(f"{v:.2f}" for v in cpu["load_average"] or []))
    view.add_row("memory", _fmt(memory["percent"], " %"))
    view.add_row("swap", _fmt(memory["swap_percent"], " %"))
    for disk in current["disks"]:
        view.add_row(f"disk {disk['mount']}", _fmt(disk["percent"], " %"))
    view.add_row("disk read", _fmt(io["disk_read_bytes_per_s"], " MB/s", 1e6))
    view.add_row("disk write", _fmt(io["disk_write_bytes_per_s"], " MB/s", 1e6))
    view.add_row("net in", _fmt(io["net_recv_bytes_per_s"], " MB/s", 1e6))
    view.add_row("net out", _fmt(io["net_sent_bytes_per_s"], " MB/s", 1e6))
    view.add_row("processes", str(current["process_count"]))
    view.add_row("event-loop lag", _fmt(current["perfpilot"]["event_loop_lag_s"], " s"))
    return view


def run(base_url: str, interval_s: float, count: int | None) -> None:
    """Refresh every ``interval_s`` until interrupted or ``count`` refreshes are shown."""
    url = f"{base_url.rstrip('/')}/api/v1/performance/metrics"
    shown = 0
    with httpx.Client(timeout=5.0) as client, Live(table(_fetch(client, url))) as live:
        shown += 1
        while count is None or shown < count:
            time.sleep(interval_s)
            live.update(table(_fetch(client, url)))
            shown += 1
