"""Checks on tables and sequences: sequential scans, XID wraparound, sequence overflow, size."""

from __future__ import annotations

from perfpilot.database.checks_model import (
    CheckContext,
    Evidence,
    Finding,
    Severity,
    in_scope,
    qualified,
)

# Transaction IDs are 32 bits compared modulo 2^31: a row frozen later than 2^31 transactions
# would appear to be in the future. PostgreSQL stops assigning XIDs 3 million before that.
# https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-WRAPAROUND
XID_WRAPAROUND_LIMIT = 2**31

TABLES_WITH_SEQUENTIAL_SCANS = f"""/* perfpilot */ SELECT s.schemaname, s.relname,
    s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0), s.n_live_tup,
    pg_relation_size(s.relid)
FROM pg_stat_user_tables s
WHERE s.n_live_tup >= %(min_rows)s
  AND s.seq_scan >= %(min_scans)s
  AND s.seq_scan >= %(min_share)s * (s.seq_scan + coalesce(s.idx_scan, 0))
  AND {in_scope("s.schemaname")}
ORDER BY s.seq_tup_read DESC, 1, 2"""

# datfrozenxid covers every table of the database; the oldest table in scope (with its TOAST
# table) is named so the fix is actionable.
TRANSACTION_ID_AGES = f"""/* perfpilot */ SELECT d.datname, age(d.datfrozenxid)::bigint,
    current_setting('autovacuum_freeze_max_age')::bigint,
    oldest.nspname, oldest.relname, oldest.xid_age
FROM pg_database d
LEFT JOIN LATERAL (
    SELECT n.nspname, c.relname,
        greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::bigint AS xid_age
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'm') AND {in_scope("n.nspname")}
    ORDER BY 3 DESC
    LIMIT 1
) oldest ON true
WHERE d.datname = current_database()"""

# The limit is the sequence's own, or the owning column's type when that is narrower (a bigint
# sequence feeding an integer column overflows the column first). pg_sequence_last_value is NULL
# before the first nextval; without privileges the value is not shown (as in pg_sequences).
SEQUENCE_VALUES_AND_LIMITS = f"""/* perfpilot */ SELECT n.nspname, c.relname,
    format_type(s.seqtypid, NULL), s.seqmin, s.seqmax, s.seqincrement,
    CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
         THEN pg_sequence_last_value(c.oid) END,
    col.table_name, col.column_name, col.column_min, col.column_max
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT t.relname AS table_name, a.attname AS column_name,
        CASE a.atttypid WHEN 'int2'::regtype::oid THEN -32768
                        WHEN 'int4'::regtype::oid THEN -2147483648 END AS column_min,
        CASE a.atttypid WHEN 'int2'::regtype::oid THEN 32767
                        WHEN 'int4'::regtype::oid THEN 2147483647 END AS column_max
    FROM pg_depend d
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
      AND d.deptype IN ('a', 'i')
    LIMIT 1
) col ON true
WHERE {in_scope("n.nspname")}
ORDER BY 1, 2"""

LARGEST_RELATIONS = f"""/* perfpilot */ SELECT n.nspname, c.relname,
    pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND {in_scope("n.nspname")}
ORDER BY 3 DESC, 1, 2
LIMIT %(limit)s"""


def tables_with_sequential_scans(ctx: CheckContext) -> list[Finding]:
    """Large tables mostly read by sequential scans (a missing index, or a reporting job)."""
    t = ctx.thresholds
    rows = ctx.fetch(
        TABLES_WITH_SEQUENTIAL_SCANS,
        min_rows=t.seq_scan_min_rows,
        min_scans=t.seq_scan_min_count,
        min_share=t.seq_scan_min_share,
    )
    return [
        Finding(
            "sequential_scans",
            Severity.WARNING,
            qualified(schema, table),
            f"{seq_scan} sequential scans read {seq_read} rows ({seq_read // seq_scan} per scan)"
            f" against {idx_scan} index scans on a table of {live} rows",
            (
                Evidence("seq_scan", seq_scan),
                Evidence("seq_tup_read", seq_read),
                Evidence("rows_per_seq_scan", seq_read // seq_scan),
                Evidence("idx_scan", idx_scan),
                Evidence("n_live_tup", live),
                Evidence("size_bytes", size, "bytes"),
            ),
        )
        for schema, table, seq_scan, seq_read, idx_scan, live, size in rows
    ]


def transaction_id_wraparound(ctx: CheckContext) -> list[Finding]:
    """The database's oldest unfrozen XID age against autovacuum_freeze_max_age and 2^31."""
    t = ctx.thresholds
    database, age, freeze_max_age, schema, table, table_age = ctx.fetch(TRANSACTION_ID_AGES)[0]
    remaining = XID_WRAPAROUND_LIMIT - age
    warning_age = freeze_max_age if t.xid_age_warning is None else t.xid_age_warning
    if remaining < t.xid_remaining_critical:
        severity, state = Severity.CRITICAL, "close to wraparound: VACUUM (FREEZE) now"
    elif age > warning_age:
        severity, state = Severity.WARNING, "autovacuum is not keeping up with freezing"
    else:
        severity, state = Severity.INFO, "within limits"
    oldest = None if table is None else qualified(schema, table)
    return [
        Finding(
            "transaction_id_wraparound",
            severity,
            database,
            f"oldest unfrozen XID is {age} transactions old, {remaining} left before"
            f" wraparound; {state}" + ("" if oldest is None else f" (oldest table {oldest})"),
            (
                Evidence("xid_age", age, "transactions"),
                Evidence("transactions_left", remaining, "transactions"),
                Evidence("autovacuum_freeze_max_age", freeze_max_age, "transactions"),
                Evidence("warning_age", warning_age, "transactions"),
                Evidence("oldest_table", oldest),
                Evidence("oldest_table_xid_age", table_age, "transactions"),
            ),
        )
    ]


def sequences_near_overflow(ctx: CheckContext) -> list[Finding]:
    """Sequences that used at least ``sequence_used_ratio`` of their range (or their column's)."""
    findings = []
    for row in ctx.fetch(SEQUENCE_VALUES_AND_LIMITS):
        schema, name, data_type, seq_min, seq_max, step, last, table, column, col_min, col_max = row
        if last is None:
            continue
        ascending = step > 0
        if ascending:
            limit = seq_max if col_max is None else min(seq_max, col_max)
        else:
            limit = seq_min if col_min is None else max(seq_min, col_min)
        used = last / limit if limit else 0.0
        if used < ctx.thresholds.sequence_used_ratio:
            continue
        owner = None if table is None else f"{qualified(schema, table)}.{column}"
        findings.append(
            Finding(
                "sequences_near_overflow",
                Severity.CRITICAL
                if used >= ctx.thresholds.sequence_critical_ratio
                else Severity.WARNING,
                qualified(schema, name),
                f"{data_type} sequence at {last} of {limit} ({used:.1%})"
                + ("" if owner is None else f", feeding {owner}"),
                (
                    Evidence("last_value", last),
                    Evidence("limit", limit),
                    Evidence("used_ratio", round(used, 6)),
                    Evidence("data_type", data_type),
                    Evidence("owned_by", owner),
                ),
            )
        )
    return findings


def largest_relations(ctx: CheckContext) -> list[Finding]:
    """The ``largest_relations_limit`` largest tables with their table and index sizes."""
    rows = ctx.fetch(LARGEST_RELATIONS, limit=ctx.thresholds.largest_relations_limit)
    return [
        Finding(
            "largest_relations",
            Severity.INFO,
            qualified(schema, name),
            f"{total} bytes in total ({table} table, {indexes} indexes)",
            (
                Evidence("total_bytes", total, "bytes"),
                Evidence("table_bytes", table, "bytes"),
                Evidence("indexes_bytes", indexes, "bytes"),
            ),
        )
        for schema, name, total, table, indexes in rows
    ]
