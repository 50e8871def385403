"""Checks on indexes and buffer cache: hit ratios, unused, duplicate and invalid indexes.

Statistics views: https://www.postgresql.org/docs/current/monitoring-stats.html
(pg_statio_user_tables, pg_statio_user_indexes, pg_stat_user_indexes); index catalog:
https://www.postgresql.org/docs/current/catalog-pg-index.html
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

# Blocks found in shared buffers versus read from the OS (which may still be its page cache).
TABLE_CACHE_HITS_AND_READS = f"""/* perfpilot */ SELECT
    sum(heap_blks_hit)::bigint, sum(heap_blks_read)::bigint
FROM pg_statio_user_tables s
WHERE {in_scope("s.schemaname")}"""

INDEX_CACHE_HITS_AND_READS = f"""/* perfpilot */ SELECT
    sum(idx_blks_hit)::bigint, sum(idx_blks_read)::bigint
FROM pg_statio_user_indexes s
WHERE {in_scope("s.schemaname")}"""

# Unique, primary-key and constraint-backing (e.g. exclusion) indexes enforce rules even when
# never scanned, so they are never "unused". Counters start at the last statistics reset.
UNUSED_INDEXES = f"""/* perfpilot */ SELECT s.schemaname, s.relname, s.indexrelname,
    s.idx_scan, pg_relation_size(s.indexrelid),
    (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan <= %(max_scans)s
  AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid)
  AND {in_scope("s.schemaname")}
ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2, 3"""

# An index is redundant when another valid index of the same table and access method has the
# same expressions and predicate and starts with its key columns, operator classes and
# collations. A unique index is only redundant next to an identical unique one. Between identical
# indexes the one enforcing more (primary, constraint, unique) or else the older one is kept.
# indkey and friends are 0-based vectors; [0:indnkeyatts-1] drops INCLUDE columns.
DUPLICATE_INDEXES = f"""/* perfpilot */ WITH idx AS (
    SELECT i.indexrelid, i.indrelid, n.nspname, t.relname AS table_name,
        c.relname AS index_name, c.relam,
        array_to_string((i.indkey::int2[])[0:i.indnkeyatts - 1], ' ') AS keys,
        array_to_string((i.indclass::oid[])[0:i.indnkeyatts - 1], ' ') AS opclasses,
        array_to_string((i.indcollation::oid[])[0:i.indnkeyatts - 1], ' ') AS collations,
        i.indisunique, i.indisprimary, i.indisvalid,
        pg_get_expr(i.indexprs, i.indrelid) AS exprs,
        pg_get_expr(i.indpred, i.indrelid) AS pred,
        EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE {in_scope("n.nspname")}
)
SELECT DISTINCT ON (d.indexrelid) d.nspname, d.table_name, d.index_name,
    pg_relation_size(d.indexrelid), pg_get_indexdef(d.indexrelid),
    c.index_name, pg_get_indexdef(c.indexrelid)
FROM idx d
JOIN idx c ON c.indrelid = d.indrelid AND c.indexrelid <> d.indexrelid
WHERE c.indisvalid AND d.relam = c.relam
  AND d.exprs IS NOT DISTINCT FROM c.exprs AND d.pred IS NOT DISTINCT FROM c.pred
  AND starts_with(c.keys || ' ', d.keys || ' ')
  AND starts_with(c.opclasses || ' ', d.opclasses || ' ')
  AND starts_with(c.collations || ' ', d.collations || ' ')
  AND NOT d.indisprimary AND NOT d.backs_constraint
  AND (NOT d.indisunique OR (c.indisunique AND c.keys = d.keys))
  AND (c.keys <> d.keys
       OR (c.indisprimary::int + c.backs_constraint::int + c.indisunique::int, d.indexrelid)
          > (d.indisunique::int, c.indexrelid))
ORDER BY d.indexrelid, length(c.keys), c.indexrelid"""

# An index left INVALID by a failed CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) costs
# writes and is never used. One being built right now is also invalid; the progress view says so.
# https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY
INVALID_INDEXES = f"""/* perfpilot */ SELECT n.nspname, t.relname, c.relname,
    pg_relation_size(c.oid), pg_get_indexdef(c.oid),
    EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT i.indisvalid AND {in_scope("n.nspname")}
ORDER BY 1, 2, 3"""


def table_hit_ratio(ctx: CheckContext) -> list[Finding]:
    """Share of table block reads served from shared buffers."""
    return [_hit_ratio(ctx, "table_hit_ratio", "table", TABLE_CACHE_HITS_AND_READS)]


def index_hit_ratio(ctx: CheckContext) -> list[Finding]:
    """Share of index block reads served from shared buffers."""
    return [_hit_ratio(ctx, "index_hit_ratio", "index", INDEX_CACHE_HITS_AND_READS)]


def _hit_ratio(ctx: CheckContext, check: str, kind: str, query: str) -> Finding:
    hits, reads = ctx.fetch(query)[0]
    total = (hits or 0) + (reads or 0)
    if total == 0:
        return Finding(
            check,
            Severity.INFO,
            "database",
            f"no {kind} blocks were accessed since the statistics reset; no ratio to compute",
            (
                Evidence("hit_ratio", None),
                Evidence("blocks_hit", hits),
                Evidence("blocks_read", reads),
            ),
        )
    ratio = hits / total
    low = ratio < ctx.thresholds.cache_hit_ratio_min
    return Finding(
        check,
        Severity.WARNING if low else Severity.INFO,
        "database",
        f"{kind} cache hit ratio {ratio:.2%}"
        + (f" is below {ctx.thresholds.cache_hit_ratio_min:.0%}" if low else ""),
        (
            Evidence("hit_ratio", round(ratio, 6)),
            Evidence("blocks_hit", hits),
            Evidence("blocks_read", reads),
        ),
    )


def unused_indexes(ctx: CheckContext) -> list[Finding]:
    """Indexes scanned at most ``unused_index_max_scans`` times that enforce nothing."""
    rows = ctx.fetch(UNUSED_INDEXES, max_scans=ctx.thresholds.unused_index_max_scans)
    return [
        Finding(
            "unused_indexes",
            Severity.WARNING,
            qualified(schema, index),
            f"index on {qualified(schema, table)} scanned {scans} times since"
            f" {reset.isoformat() if reset else 'the statistics were reset'}; it costs"
            f" {size} bytes and slows every write (check replicas before dropping it)",
            (
                Evidence("idx_scan", scans),
                Evidence("size_bytes", size, "bytes"),
                Evidence("table", qualified(schema, table)),
                Evidence("stats_reset", None if reset is None else reset.isoformat()),
            ),
        )
        for schema, table, index, scans, size, reset in rows
    ]


def duplicate_indexes(ctx: CheckContext) -> list[Finding]:
    """Indexes whose key columns are a prefix of another valid index's (same table and kind)."""
    return [
        Finding(
            "duplicate_indexes",
            Severity.WARNING,
            qualified(schema, index),
            f"covered by {qualified(schema, cover)} on {qualified(schema, table)}",
            (
                Evidence("size_bytes", size, "bytes"),
                Evidence("definition", definition),
                Evidence("covered_by", qualified(schema, cover)),
                Evidence("covered_by_definition", cover_definition),
            ),
        )
        for schema, table, index, size, definition, cover, cover_definition in ctx.fetch(
            DUPLICATE_INDEXES
        )
    ]


def invalid_indexes(ctx: CheckContext) -> list[Finding]:
    """Indexes marked invalid; those being built right now are reported as info."""
    findings = []
    for schema, table, index, size, definition, building in ctx.fetch(INVALID_INDEXES):
        message = (
            "is being built (invalid until the build finishes)"
            if building
            else "is invalid (a failed concurrent build): drop it with DROP INDEX CONCURRENTLY"
            " and build it again, or REINDEX INDEX CONCURRENTLY"
        )
        findings.append(
            Finding(
                "invalid_indexes",
                Severity.INFO if building else Severity.WARNING,
                qualified(schema, index),
                f"index on {qualified(schema, table)} {message}",
                (
                    Evidence("size_bytes", size, "bytes"),
                    Evidence("definition", definition),
                    Evidence("being_built", "yes" if building else "no"),
                ),
            )
        )
    return findings
