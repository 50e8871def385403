"""The monitor's rollups and alerts, written once for both backends over their SQL runner."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from perfpilot.monitor.model import Alert, AlertStatus, Rollup, Severity
from perfpilot.store.base import check_limit
from perfpilot.store.rows import (
    ALERT_COLUMNS,
    ALERT_UPDATE,
    ROLLUP_COLUMNS,
    ROLLUP_UPDATE,
    alert_from_row,
    alert_params,
    rollup_from_row,
    rollup_params,
)
from perfpilot.store.sqlrunner import SqlRunner

_UPSERT_ROLLUP = (
    f"INSERT INTO {{t}}resource_rollups ({ROLLUP_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"
    f" ON CONFLICT (series, minute) DO UPDATE SET {ROLLUP_UPDATE}"
)
_UPSERT_ALERT = (
    f"INSERT INTO {{t}}alerts ({ALERT_COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    f" ON CONFLICT (id) DO UPDATE SET {ALERT_UPDATE}"
)


class MonitorRecords:
    """``RollupStore`` and ``AlertStore`` for any backend that provides ``runner``."""

    @property
    def runner(self) -> SqlRunner:
        raise NotImplementedError

    def save_rollups(self, rollups: Sequence[Rollup]) -> None:
        encode = self.runner.dialect.encode_time
        params = [rollup_params(r, encode) for r in rollups]
        if params:
            self.runner.write("save rollups", _UPSERT_ROLLUP, params)

    def load_rollups(
        self, since: datetime, until: datetime, series: Collection[str] | None = None
    ) -> list[Rollup]:
        encode = self.runner.dialect.encode_time
        template = (
            f"SELECT {ROLLUP_COLUMNS} FROM {{t}}resource_rollups WHERE minute >= %s AND minute < %s"
        )
        params: list[Any] = [encode(since), encode(until)]
        if series is not None:
            if not series:
                return []
            template += f" AND series IN ({', '.join('%s' for _ in series)})"
            params.extend(series)
        rows = self.runner.query("load rollups", template + " ORDER BY minute, series", params)
        return [rollup_from_row(row, self.runner.dialect.decode_time) for row in rows]

    def prune_rollups(self, before: datetime) -> int:
        encoded = self.runner.dialect.encode_time(before)
        return self.runner.write(
            "prune rollups", "DELETE FROM {t}resource_rollups WHERE minute < %s", [(encoded,)]
        )

    def save_alert(self, alert: Alert) -> None:
        params = alert_params(alert, self.runner.dialect.encode_time)
        self.runner.write("save alert", _UPSERT_ALERT, [params])

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self.runner.query(
            "get alert", f"SELECT {ALERT_COLUMNS} FROM {{t}}alerts WHERE id = %s", [alert_id]
        )
        return alert_from_row(rows[0], self.runner.dialect.decode_time) if rows else None

    def list_alerts(
        self,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        check_limit(limit)
        conditions: list[str] = []
        params: list[Any] = []
        if status is not None:
            conditions.append("status = %s")
            params.append(status.value)
        if severity is not None:
            conditions.append("severity = %s")
            params.append(severity.value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        template = (
            f"SELECT {ALERT_COLUMNS} FROM {{t}}alerts{where}"
            " ORDER BY started_at DESC, id DESC LIMIT %s"
        )
        rows = self.runner.query("list alerts", template, [*params, limit])
        return [alert_from_row(row, self.runner.dialect.decode_time) for row in rows]
