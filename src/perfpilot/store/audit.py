"""The audit trail (``core.audit.AuditLog``) on either backend."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from perfpilot.core.audit import AuditEntry, Outcome
from perfpilot.store.base import check_limit, to_utc
from perfpilot.store.sqlrunner import Row, SqlRunner

_COLUMNS = (
    "at, component, action, target, statement, reason, trigger, risk, outcome, detail,"
    " before_json, after_json"
)
_INSERT = (
    f"INSERT INTO {{t}}audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s)"
)


class AuditRepository:
    """Append-only audit entries, newest first on read."""

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner

    def record(self, entry: AuditEntry) -> None:
        encode = self._runner.dialect.encode_time
        params = (
            encode(to_utc(entry.at)),
            entry.component,
            entry.action,
            entry.target,
            entry.statement,
            entry.reason,
            entry.trigger,
            entry.risk,
            entry.outcome.value,
            entry.detail,
            json.dumps(entry.before),
            json.dumps(entry.after),
        )
        self._runner.write("record audit entry", _INSERT, [params])

    def entries(
        self, since: datetime | None = None, component: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        check_limit(limit)
        conditions: list[str] = []
        params: list[Any] = []
        if since is not None:
            conditions.append("at >= %s")
            params.append(self._runner.dialect.encode_time(to_utc(since)))
        if component is not None:
            conditions.append("component = %s")
            params.append(component)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        template = (
            f"SELECT {_COLUMNS} FROM {{t}}audit_log{where} ORDER BY at DESC, id DESC LIMIT %s"
        )
        rows = self._runner.query("read audit entries", template, [*params, limit])
        return [self._entry(row) for row in rows]

    def prune(self, before: datetime) -> int:
        """Delete entries older than ``before`` (retention); returns how many."""
        encoded = self._runner.dialect.encode_time(to_utc(before))
        return self._runner.write(
            "prune audit entries", "DELETE FROM {t}audit_log WHERE at < %s", [(encoded,)]
        )

    def _entry(self, row: Row) -> AuditEntry:
        return AuditEntry(
            at=self._runner.dialect.decode_time(row[0]),
            component=row[1],
            action=row[2],
            target=row[3],
            statement=row[4],
            reason=row[5],
            trigger=row[6],
            risk=row[7],
            outcome=Outcome(row[8]),
            detail=row[9],
            before=json.loads(row[10]),
            after=json.loads(row[11]),
        )
