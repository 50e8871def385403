"""Table and B-tree index bloat estimates from catalog statistics (no table is read).

The approach is the one of the ioguix/pgexperts estimate queries
(https://github.com/ioguix/pgsql-bloat-estimation): rebuild the expected size of a relation from
``reltuples`` and the average column widths in ``pg_stats``, and compare it with ``relpages``.
The on-disk sizes come from https://www.postgresql.org/docs/current/storage-page-layout.html:
a 24-byte page header, a 4-byte line pointer per tuple, a 23-byte heap tuple header plus a null
bitmap, an 8-byte index tuple header (plus a 4-byte null bitmap when a key can be NULL), tuples
aligned to 8 bytes (MAXALIGN on 64-bit), and 16 bytes of B-tree special space per index page.
It is an estimate: it ignores per-column alignment padding and B-tree deduplication (PG 13+,
which makes indexes smaller than estimated, hiding some bloat), and it needs ANALYZE statistics
for every column involved; relations without them are left out.
"""

from __future__ import annotations

from perfpilot.database.checks_model import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    in_scope,
    qualified,
)

# Heap fillfactor defaults to 100, B-tree to 90 (storage parameters of CREATE TABLE / INDEX).
TABLE_BLOAT_ESTIMATES = f"""/* perfpilot */ WITH tables AS (
    SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples,
        current_setting('block_size')::numeric AS bs,
        coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions)
                  WHERE option_name = 'fillfactor'), 100) AS fillfactor
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND c.reltuples > 0
      AND {in_scope("n.nspname")}
), widths AS (
    SELECT t.oid, count(*) AS natts, count(s.attname) AS natts_with_stats,
        sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS data_width,
        bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls
    FROM tables t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_stats s ON s.schemaname = t.nspname AND s.tablename = t.relname
        AND s.attname = a.attname AND NOT s.inherited
    GROUP BY t.oid
), estimates AS (
    SELECT t.nspname, t.relname, t.relpages, t.bs,
        ceil(t.reltuples * (
            ceil((23 + CASE WHEN w.has_nulls THEN ceil(w.natts / 8.0) ELSE 0 END) / 8.0) * 8
            + ceil(w.data_width / 8.0) * 8 + 4)
          / ((t.bs - 24) * t.fillfactor / 100.0)) AS expected_pages
    FROM tables t JOIN widths w ON w.oid = t.oid
    WHERE w.natts_with_stats = w.natts
)
SELECT nspname, relname, (relpages * bs)::bigint AS size_bytes,
    (greatest(relpages - expected_pages, 0) * bs)::bigint AS bloat_bytes
FROM estimates
ORDER BY 4 DESC, 1, 2"""

INDEX_BLOAT_ESTIMATES = f"""/* perfpilot */ WITH indexes AS (
    SELECT c.oid, n.nspname, t.relname AS table_name, c.relname AS index_name,
        c.relpages, c.reltuples, i.indrelid, i.indkey::int2[] AS keys,
        current_setting('block_size')::numeric AS bs,
        coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions)
                  WHERE option_name = 'fillfactor'), 90) AS fillfactor
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = c.relam
    WHERE am.amname = 'btree' AND i.indexprs IS NULL AND i.indisvalid
      AND c.relpages > 1 AND c.reltuples > 0 AND {in_scope("n.nspname")}
), widths AS (
    SELECT x.oid, count(*) AS natts, count(s.attname) AS natts_with_stats,
        sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS data_width,
        bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls
    FROM indexes x
    CROSS JOIN LATERAL unnest(x.keys) AS k(attnum)
    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
    LEFT JOIN pg_stats s ON s.schemaname = x.nspname AND s.tablename = x.table_name
        AND s.attname = a.attname AND NOT s.inherited
    GROUP BY x.oid
), estimates AS (
    SELECT x.nspname, x.table_name, x.index_name, x.relpages, x.bs,
        -- one metapage, then leaf pages of aligned tuples plus their line pointers
        1 + ceil(x.reltuples * (
            ceil((8 + CASE WHEN w.has_nulls THEN 4 ELSE 0 END + w.data_width) / 8.0) * 8 + 4)
          / ((x.bs - 24 - 16) * x.fillfactor / 100.0)) AS expected_pages
    FROM indexes x JOIN widths w ON w.oid = x.oid
    WHERE w.natts_with_stats = w.natts
)
SELECT nspname, table_name, index_name, (relpages * bs)::bigint AS size_bytes,
    (greatest(relpages - expected_pages, 0) * bs)::bigint AS bloat_bytes
FROM estimates
ORDER BY 5 DESC, 1, 2, 3"""


def table_bloat(ctx: CheckContext) -> list[Finding]:
    """Tables whose estimated bloat passes both ``bloat_min_bytes`` and ``bloat_min_ratio``."""
    findings = []
    for schema, table, size, bloat in ctx.fetch(TABLE_BLOAT_ESTIMATES):
        finding = _bloat_finding(ctx, "table_bloat", qualified(schema, table), size, bloat)
        if finding is not None:
            findings.append(finding)
    return findings


def index_bloat(ctx: CheckContext) -> list[Finding]:
    """B-tree indexes whose estimated bloat passes both bloat thresholds."""
    findings = []
    for schema, _table, index, size, bloat in ctx.fetch(INDEX_BLOAT_ESTIMATES):
        finding = _bloat_finding(ctx, "index_bloat", qualified(schema, index), size, bloat)
        if finding is not None:
            findings.append(finding)
    return findings


def _bloat_finding(
    ctx: CheckContext, check: str, subject: str, size: int, bloat: int
) -> Finding | None:
    t = ctx.thresholds
    ratio = bloat / size if size else 0.0
    if bloat < t.bloat_min_bytes or ratio < t.bloat_min_ratio:
        return None
    remedy = (
        "REINDEX INDEX CONCURRENTLY"
        if check == "index_bloat"
        else "pg_repack (or VACUUM FULL, which locks the table)"
    )
    return Finding(
        check,
        Severity.WARNING,
        subject,
        f"an estimated {ratio:.0%} ({bloat} of {size} bytes) is free space; {remedy} would"
        " return it",
        (
            Evidence("size_bytes", size, "bytes"),
            Evidence("bloat_bytes", bloat, "bytes"),
            Evidence("bloat_ratio", round(ratio, 4)),
        ),
    )
