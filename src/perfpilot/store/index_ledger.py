"""The Database Tuner's index ledger (``database.ledger.IndexLedger``) on either backend."""

from __future__ import annotations

import json
from datetime import datetime

from perfpilot.database.impact import IndexVerdict
from perfpilot.database.ledger import BuiltIndex
from perfpilot.store.base import to_utc
from perfpilot.store.sqlrunner import Row, SqlRunner

_COLUMNS = (
    "schema_name, index_name, table_name, definition, created_at, fingerprints_json,"
    " before_mean_ms, verdict, judged_at, detail"
)
_UPSERT = (
    f"INSERT INTO {{t}}tuner_indexes ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (schema_name, index_name) DO UPDATE SET table_name = excluded.table_name,"
    " definition = excluded.definition, created_at = excluded.created_at,"
    " fingerprints_json = excluded.fingerprints_json, before_mean_ms = excluded.before_mean_ms,"
    " verdict = excluded.verdict, judged_at = excluded.judged_at, detail = excluded.detail"
)
_VERDICT = (
    "UPDATE {t}tuner_indexes SET verdict = %s, judged_at = %s, detail = %s"
    " WHERE schema_name = %s AND index_name = %s"
)


class IndexLedgerRepository:
    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner

    def record_built(self, index: BuiltIndex) -> None:
        encode = self._runner.dialect.encode_time
        params = (
            index.schema,
            index.name,
            index.table,
            index.definition,
            encode(to_utc(index.created_at)),
            json.dumps(list(index.fingerprints)),
            index.before_mean_ms,
            index.verdict.value if index.verdict else None,
            encode(to_utc(index.judged_at)) if index.judged_at else None,
            index.detail,
        )
        self._runner.write("record built index", _UPSERT, [params])

    def built(self) -> list[BuiltIndex]:
        rows = self._runner.query(
            "read built indexes",
            f"SELECT {_COLUMNS} FROM {{t}}tuner_indexes ORDER BY created_at, index_name",
        )
        return [self._index(row) for row in rows]

    def set_verdict(
        self, schema: str, name: str, verdict: IndexVerdict, at: datetime, detail: str
    ) -> None:
        params = (verdict.value, self._runner.dialect.encode_time(to_utc(at)), detail, schema, name)
        self._runner.write("record index verdict", _VERDICT, [params])

    def _index(self, row: Row) -> BuiltIndex:
        dialect = self._runner.dialect
        return BuiltIndex(
            schema=row[0],
            name=row[1],
            table=row[2],
            definition=row[3],
            created_at=dialect.decode_time(row[4]),
            fingerprints=tuple(json.loads(row[5])),
            before_mean_ms=row[6],
            verdict=IndexVerdict(row[7]) if row[7] else None,
            judged_at=dialect.time_or_none(row[8]),
            detail=row[9],
        )
