"""Load traces for ``perfpilot scaling simulate``: CSV with ``timestamp`` (ISO 8601 or epoch
seconds) and ``requests_per_second`` columns; other columns are ignored."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class TraceError(ValueError):
    """The trace cannot be read; the message names the line and the value."""


@dataclass(frozen=True, slots=True)
class TracePoint:
    at: datetime
    requests_per_second: float


def read_trace(path: Path) -> list[TracePoint]:
    """The trace's points in time order; TraceError on a missing column or a bad value."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return parse_trace(handle)
    except OSError as exc:
        raise TraceError(f"cannot read trace {path}: {exc.strerror}") from exc


def parse_trace(lines: Iterable[str]) -> list[TracePoint]:
    reader = csv.DictReader(lines)
    missing = {"timestamp", "requests_per_second"} - set(reader.fieldnames or ())
    if missing:
        raise TraceError(f"trace header lacks {sorted(missing)}; has {reader.fieldnames}")
    points = []
    for line, row in enumerate(reader, start=2):
        rps_text = row["requests_per_second"]
        try:
            rps = float(rps_text)
        except ValueError as exc:
            raise TraceError(f"line {line}: requests_per_second={rps_text!r}") from exc
        if rps < 0 or rps != rps:
            raise TraceError(f"line {line}: requests_per_second={rps_text!r} is not >= 0")
        points.append(TracePoint(_timestamp(row["timestamp"], line), rps))
    if len(points) < 2:
        raise TraceError("a trace needs at least two rows")
    points.sort(key=lambda p: p.at)
    return points


def _timestamp(text: str, line: int) -> datetime:
    value = text.strip()
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise TraceError(f"line {line}: timestamp={text!r} is neither ISO 8601 nor epoch") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
