"""What the advisor needs from the system catalogs: tables, their indexes and column stats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import TupleRow

from perfpilot.database.indexdef import normalize_index_key
from perfpilot.database.shape import TableRef

# relkind: r table, p partitioned table, m materialized view, v view.
TABLES_SQL = """/* perfpilot */
SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::float8, pg_table_size(c.oid),
       coalesce(s.n_tup_ins + s.n_tup_upd - s.n_tup_hot_upd + s.n_tup_del, 0),
       coalesce(s.seq_scan + coalesce(s.idx_scan, 0), 0),
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid, true) END,
       array(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'v') AND n.nspname = ANY(%(schemas)s)"""

# Key columns only (indnkeyatts): INCLUDE columns cannot serve a predicate or an ordering.
# pg_get_indexdef(oid, k, true) prints a key without its operator class, so the classes come
# from indclass: the name of a non-default one (text_pattern_ops), NULL for the default.
INDEXES_SQL = """/* perfpilot */
SELECT n.nspname, c.relname, ic.relname, i.indisvalid AND i.indisready, am.amname,
       i.indpred IS NOT NULL,
       array(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k),
       pg_relation_size(i.indexrelid),
       array(SELECT CASE WHEN oc.opcdefault THEN NULL ELSE oc.opcname::text END
             FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS u(opclass, k)
             JOIN pg_opclass oc ON oc.oid = u.opclass
             WHERE u.k <= i.indnkeyatts ORDER BY u.k)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE n.nspname = ANY(%(schemas)s)"""

# anyarray columns go through text to text[], the only portable way to read them.
STATS_SQL = """/* perfpilot */
SELECT schemaname::text, tablename::text, attname::text, null_frac::float8, n_distinct::float8,
       most_common_vals::text::text[], histogram_bounds::text::text[]
FROM pg_stats
WHERE schemaname = ANY(%(schemas)s) AND NOT inherited"""

# Collatable columns of tables, with whether their collation compares byte-wise (C or POSIX,
# directly or as the database default): only then does a default-class btree serve
# ``LIKE 'abc%'``. datlocprovider exists from PostgreSQL 15; before, every default is libc.
COLUMN_TYPES_SQL = """/* perfpilot */
WITH db AS (
    SELECT d.datcollate, coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') AS provider
    FROM pg_database d WHERE d.datname = current_database())
SELECT n.nspname, c.relname, a.attname::text, t.typname::text,
       coalesce(co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX')
                OR co.collprovider = 'd' AND db.provider = 'c'
                   AND db.datcollate IN ('C', 'POSIX'), false)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_collation co ON co.oid = a.attcollation
CROSS JOIN db
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname = ANY(%(schemas)s)"""

SEARCH_PATH_SQL = "/* perfpilot */ SELECT current_schemas(false)::text[]"

RELKINDS = {"r": "table", "p": "partitioned table", "m": "materialized view", "v": "view"}


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    valid: bool
    method: str
    partial: bool
    keys: tuple[str, ...]  # normalized: a column name, or "(expression)"
    size_bytes: int
    opclasses: tuple[str | None, ...] = ()  # per key: a non-default class, None for default

    def opclass(self, position: int) -> str | None:
        """The operator class of key ``position``; None for the default (or not read)."""
        return self.opclasses[position] if position < len(self.opclasses) else None


@dataclass(frozen=True)
class ColumnType:
    """A collatable column: its base type name (pg_type.typname: text, varchar, bpchar, ...)
    and whether its collation compares byte-wise (C or POSIX)."""

    type_name: str
    c_collation: bool


@dataclass(frozen=True)
class ColumnStats:
    null_frac: float
    n_distinct: float  # negative: minus the fraction of rows (pg_stats convention)
    most_common_vals: tuple[str, ...]
    histogram_bounds: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    """One relation; ``rows`` is None when it was never analyzed (reltuples = -1, PG 14+)."""

    ref: TableRef  # always schema-qualified
    kind: str
    rows: float | None
    size_bytes: int
    index_writes: int  # tuples inserted, non-HOT updated, deleted: each touches every index
    scans: int
    columns: tuple[str, ...]
    view_definition: str | None = None
    indexes: tuple[ExistingIndex, ...] = ()
    stats: Mapping[str, ColumnStats] = field(default_factory=dict)
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)  # collatable only


@dataclass(frozen=True)
class Catalog:
    tables: Mapping[TableRef, TableInfo]
    search_path: tuple[str, ...]
    schemas: tuple[str, ...]

    def find(self, ref: TableRef) -> TableInfo | None:
        """The relation ``ref`` names, through the search path when unqualified."""
        if ref.schema is not None:
            return self.tables.get(ref)
        for schema in self.search_path:
            found = self.tables.get(TableRef(schema, ref.name))
            if found is not None:
                return found
        return None

    def view_definitions(self) -> dict[str, str]:
        """View definitions by the names queries use: ``schema.name``, and ``name`` when the
        schema is on the search path (first match wins, as in PostgreSQL)."""
        views: dict[str, str] = {}
        for info in self.tables.values():
            if info.view_definition is not None:
                views[str(info.ref)] = info.view_definition
        for schema in reversed(self.search_path):
            for ref, info in self.tables.items():
                if ref.schema == schema and info.view_definition is not None:
                    views[ref.name] = info.view_definition
        return views


def read_catalog(conn: psycopg.Connection[TupleRow], schemas: Sequence[str]) -> Catalog:
    """Read the allow-listed ``schemas``; nothing outside them is ever looked at."""
    params = {"schemas": list(schemas)}
    indexes: dict[TableRef, list[ExistingIndex]] = {}
    for schema, table, name, valid, method, partial, keys, size, opclasses in conn.execute(
        INDEXES_SQL, params
    ):
        index = ExistingIndex(name, valid, method, partial, _keys(keys), size, tuple(opclasses))
        indexes.setdefault(TableRef(schema, table), []).append(index)
    column_types: dict[TableRef, dict[str, ColumnType]] = {}
    for schema, table, column, type_name, c_collation in conn.execute(COLUMN_TYPES_SQL, params):
        column_types.setdefault(TableRef(schema, table), {})[column] = ColumnType(
            type_name, c_collation
        )
    stats: dict[TableRef, dict[str, ColumnStats]] = {}
    for schema, table, column, null_frac, n_distinct, mcv, bounds in conn.execute(
        STATS_SQL, params
    ):
        entry = ColumnStats(null_frac, n_distinct, tuple(mcv or ()), tuple(bounds or ()))
        stats.setdefault(TableRef(schema, table), {})[column] = entry
    tables = {}
    for row in conn.execute(TABLES_SQL, params):
        ref = TableRef(row[0], row[1])
        tables[ref] = TableInfo(
            ref=ref,
            kind=RELKINDS[row[2]],
            rows=row[3] if row[3] >= 0 else None,
            size_bytes=row[4] or 0,
            index_writes=row[5],
            scans=row[6],
            view_definition=row[7],
            columns=tuple(row[8]),
            indexes=tuple(indexes.get(ref, ())),
            stats=stats.get(ref, {}),
            column_types=column_types.get(ref, {}),
        )
    path_row = conn.execute(SEARCH_PATH_SQL).fetchone()
    search_path = tuple(s for s in (path_row[0] if path_row else ()) if s in schemas)
    return Catalog(tables, search_path, tuple(schemas))


def _keys(definitions: list[str]) -> tuple[str, ...]:
    return tuple(normalize_index_key(d) for d in definitions)
