"""The Cache Optimizer's TTL change ledger (``cache.ports.TtlLedger``) on either backend."""

from __future__ import annotations

from datetime import datetime

from perfpilot.cache.ports import TtlChange
from perfpilot.store.base import check_limit, to_utc
from perfpilot.store.sqlrunner import Row, SqlRunner

_COLUMNS = (
    "id, namespace, at, before_ttl_ms, after_ttl_ms, hit_ratio_before, lookups_before, reason,"
    " hit_ratio_after, lookups_after, judged_at"
)
_INSERT = (
    f"INSERT INTO {{t}}cache_ttl_changes ({_COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_AFTER = (
    "UPDATE {t}cache_ttl_changes SET hit_ratio_after = %s, lookups_after = %s, judged_at = %s"
    " WHERE id = %s"
)


class TtlLedgerRepository:
    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner

    def record_change(self, change: TtlChange) -> None:
        encode = self._runner.dialect.encode_time
        params = (
            change.id,
            change.namespace,
            encode(to_utc(change.at)),
            change.before_ttl_ms,
            change.after_ttl_ms,
            change.hit_ratio_before,
            change.lookups_before,
            change.reason,
            change.hit_ratio_after,
            change.lookups_after,
            encode(to_utc(change.judged_at)) if change.judged_at else None,
        )
        self._runner.write("record cache TTL change", _INSERT, [params])

    def unjudged(self) -> list[TtlChange]:
        rows = self._runner.query(
            "read unjudged cache TTL changes",
            f"SELECT {_COLUMNS} FROM {{t}}cache_ttl_changes WHERE judged_at IS NULL ORDER BY at",
        )
        return [self._change(row) for row in rows]

    def set_after(
        self, change_id: str, hit_ratio: float | None, lookups: int, judged_at: datetime
    ) -> None:
        params = (
            hit_ratio,
            lookups,
            self._runner.dialect.encode_time(to_utc(judged_at)),
            change_id,
        )
        self._runner.write("judge cache TTL change", _AFTER, [params])

    def recent(self, limit: int = 50) -> list[TtlChange]:
        check_limit(limit)
        rows = self._runner.query(
            "read cache TTL changes",
            f"SELECT {_COLUMNS} FROM {{t}}cache_ttl_changes ORDER BY at DESC, id DESC LIMIT %s",
            [limit],
        )
        return [self._change(row) for row in rows]

    def _change(self, row: Row) -> TtlChange:
        dialect = self._runner.dialect
        return TtlChange(
            id=row[0],
            namespace=row[1],
            at=dialect.decode_time(row[2]),
            before_ttl_ms=row[3],
            after_ttl_ms=row[4],
            hit_ratio_before=row[5],
            lookups_before=row[6],
            reason=row[7],
            hit_ratio_after=row[8],
            lookups_after=row[9],
            judged_at=dialect.time_or_none(row[10]),
        )
