"""Mapping between the monitor's records and table rows, shared by both backends.

Each backend passes its own time codec: SQLite stores ISO-8601 text, PostgreSQL timestamptz.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from perfpilot.monitor.model import Alert, AlertKind, AlertStatus, Rollup, Severity

Encode = Callable[[datetime], Any]
Decode = Callable[[Any], datetime]

ROLLUP_COLUMNS = "series, minute, avg, min, max, count"
ROLLUP_UPDATE = "avg = excluded.avg, min = excluded.min, max = excluded.max, count = excluded.count"

ALERT_COLUMNS = (
    "id, fingerprint, kind, resource, severity, status, message, value, threshold,"
    " started_at, last_seen_at, resolved_at, resolved_by, comment"
)
ALERT_UPDATE = ", ".join(
    f"{column} = excluded.{column}"
    for column in (name.strip() for name in ALERT_COLUMNS.split(","))
    if column != "id"
)


def rollup_params(rollup: Rollup, encode: Encode) -> tuple[Any, ...]:
    """Values in ROLLUP_COLUMNS order."""
    r = rollup
    return (r.series, encode(r.minute), r.avg, r.min, r.max, r.count)


def rollup_from_row(row: Sequence[Any], decode: Decode) -> Rollup:
    """A Rollup from a row selected in ROLLUP_COLUMNS order."""
    series, minute, avg, low, high, count = row
    return Rollup(series=series, minute=decode(minute), avg=avg, min=low, max=high, count=count)


def alert_params(alert: Alert, encode: Encode) -> tuple[Any, ...]:
    """Values in ALERT_COLUMNS order; enums as their values, None kept as NULL."""
    a = alert
    return (
        a.id,
        a.fingerprint,
        a.kind.value,
        a.resource,
        a.severity.value,
        a.status.value,
        a.message,
        a.value,
        a.threshold,
        encode(a.started_at),
        encode(a.last_seen_at),
        None if a.resolved_at is None else encode(a.resolved_at),
        a.resolved_by,
        a.comment,
    )


def alert_from_row(row: Sequence[Any], decode: Decode) -> Alert:
    """An Alert from a row selected in ALERT_COLUMNS order."""
    return Alert(
        id=row[0],
        fingerprint=row[1],
        kind=AlertKind(row[2]),
        resource=row[3],
        severity=Severity(row[4]),
        status=AlertStatus(row[5]),
        message=row[6],
        value=row[7],
        threshold=row[8],
        started_at=decode(row[9]),
        last_seen_at=decode(row[10]),
        resolved_at=None if row[11] is None else decode(row[11]),
        resolved_by=row[12],
        comment=row[13],
    )
