"""Tables autovacuum considers due for VACUUM or ANALYZE, by autovacuum's own formulas.

From https://www.postgresql.org/docs/current/routine-vacuuming.html#AUTOVACUUM:

- vacuum when n_dead_tup > autovacuum_vacuum_threshold
  + autovacuum_vacuum_scale_factor * reltuples,
- or (PostgreSQL 13+) when inserts since the last vacuum > autovacuum_vacuum_insert_threshold
  + autovacuum_vacuum_insert_scale_factor * reltuples (a threshold of -1 disables it),
- analyze when n_mod_since_analyze > autovacuum_analyze_threshold
  + autovacuum_analyze_scale_factor * reltuples.

Each parameter can be overridden per table by a storage parameter of the same name
(``ALTER TABLE ... SET (...)``, https://www.postgresql.org/docs/current/sql-createtable.html#SQL-CREATETABLE-STORAGE-PARAMETERS),
as can ``autovacuum_enabled``. reltuples is -1 before the first VACUUM or ANALYZE (PG 14+);
autovacuum then uses 0, and so does this query. Partitioned parents hold no rows and are skipped.
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

_TABLE_AUTOVACUUM_PARAMETERS = f"""WITH tables AS (
    SELECT s.schemaname, s.relname, s.n_dead_tup, s.n_mod_since_analyze, {{inserted}} AS inserted,
        greatest(c.reltuples, 0) AS reltuples,
        coalesce(o.enabled::bool, true) AND current_setting('autovacuum')::bool AS autovacuum_on,
        coalesce(o.vacuum_threshold::float8,
                 current_setting('autovacuum_vacuum_threshold')::float8) AS vac_base,
        coalesce(o.vacuum_scale_factor::float8,
                 current_setting('autovacuum_vacuum_scale_factor')::float8) AS vac_scale,
        {{insert_base}} AS ins_base,
        {{insert_scale}} AS ins_scale,
        coalesce(o.analyze_threshold::float8,
                 current_setting('autovacuum_analyze_threshold')::float8) AS anl_base,
        coalesce(o.analyze_scale_factor::float8,
                 current_setting('autovacuum_analyze_scale_factor')::float8) AS anl_scale,
        greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
        greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
    FROM pg_stat_user_tables s
    JOIN pg_class c ON c.oid = s.relid
    CROSS JOIN LATERAL (
        SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled') AS enabled,
            max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold')
                AS vacuum_threshold,
            max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor')
                AS vacuum_scale_factor,
            max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_insert_threshold')
                AS insert_threshold,
            max(option_value) FILTER (
                WHERE option_name = 'autovacuum_vacuum_insert_scale_factor') AS insert_scale_factor,
            max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_threshold')
                AS analyze_threshold,
            max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor')
                AS analyze_scale_factor
        FROM pg_options_to_table(c.reloptions)
    ) o
    WHERE c.relkind IN ('r', 'm') AND {in_scope("s.schemaname")}
)"""

_PG13_INSERTS = {
    "inserted": "s.n_ins_since_vacuum",
    "insert_base": "coalesce(o.insert_threshold::float8,"
    " current_setting('autovacuum_vacuum_insert_threshold')::float8)",
    "insert_scale": "coalesce(o.insert_scale_factor::float8,"
    " current_setting('autovacuum_vacuum_insert_scale_factor')::float8)",
}
# Before PostgreSQL 13 there is no insert-driven vacuum: -1 disables that branch.
_PG12_INSERTS = {
    "inserted": "NULL::bigint",
    "insert_base": "-1::float8",
    "insert_scale": "0::float8",
}

_TABLES_DUE_FOR_VACUUM = """/* perfpilot */ {parameters}
SELECT schemaname, relname, n_dead_tup, vac_base + vac_scale * reltuples AS dead_threshold,
    inserted, CASE WHEN ins_base >= 0 THEN ins_base + ins_scale * reltuples END AS ins_threshold,
    reltuples::bigint, autovacuum_on, last_vacuum
FROM tables
WHERE n_dead_tup > vac_base + vac_scale * reltuples
   OR (ins_base >= 0 AND inserted > ins_base + ins_scale * reltuples)
ORDER BY n_dead_tup DESC, 1, 2"""

_TABLES_DUE_FOR_ANALYZE = """/* perfpilot */ {parameters}
SELECT schemaname, relname, n_mod_since_analyze, anl_base + anl_scale * reltuples AS threshold,
    reltuples::bigint, autovacuum_on, last_analyze
FROM tables
WHERE n_mod_since_analyze > anl_base + anl_scale * reltuples
ORDER BY n_mod_since_analyze DESC, 1, 2"""

TABLES_DUE_FOR_VACUUM = _TABLES_DUE_FOR_VACUUM.format(
    parameters=_TABLE_AUTOVACUUM_PARAMETERS.format(**_PG13_INSERTS)
)
TABLES_DUE_FOR_VACUUM_BEFORE_PG13 = _TABLES_DUE_FOR_VACUUM.format(
    parameters=_TABLE_AUTOVACUUM_PARAMETERS.format(**_PG12_INSERTS)
)
TABLES_DUE_FOR_ANALYZE = _TABLES_DUE_FOR_ANALYZE.format(
    parameters=_TABLE_AUTOVACUUM_PARAMETERS.format(**_PG13_INSERTS)
)
TABLES_DUE_FOR_ANALYZE_BEFORE_PG13 = _TABLES_DUE_FOR_ANALYZE.format(
    parameters=_TABLE_AUTOVACUUM_PARAMETERS.format(**_PG12_INSERTS)
)


def tables_due_for_vacuum(ctx: CheckContext) -> list[Finding]:
    """Tables past autovacuum's dead-tuple or insert threshold (per-table settings honoured)."""
    query = TABLES_DUE_FOR_VACUUM if _pg13(ctx) else TABLES_DUE_FOR_VACUUM_BEFORE_PG13
    findings = []
    for schema, table, dead, dead_limit, inserted, ins_limit, tuples, auto, last in ctx.fetch(
        query
    ):
        reason = (
            f"{dead} dead rows > threshold {dead_limit:.0f}"
            if dead > dead_limit
            else f"{inserted} rows inserted since the last vacuum > threshold {ins_limit:.0f}"
        )
        findings.append(
            Finding(
                "tables_due_for_vacuum",
                Severity.INFO if auto else Severity.WARNING,
                qualified(schema, table),
                f"due for VACUUM: {reason}" + _autovacuum_note(auto),
                (
                    # Schema and table apart from the display subject: maintenance acts on them.
                    Evidence("schema", schema),
                    Evidence("table", table),
                    Evidence("n_dead_tup", dead),
                    Evidence("dead_threshold", round(dead_limit, 1)),
                    Evidence("n_ins_since_vacuum", inserted),
                    Evidence(
                        "insert_threshold", None if ins_limit is None else round(ins_limit, 1)
                    ),
                    Evidence("reltuples", tuples),
                    Evidence("autovacuum_enabled", "yes" if auto else "no"),
                    Evidence("last_vacuum", None if last is None else last.isoformat()),
                ),
            )
        )
    return findings


def tables_due_for_analyze(ctx: CheckContext) -> list[Finding]:
    """Tables past autovacuum's analyze threshold (per-table settings honoured)."""
    query = TABLES_DUE_FOR_ANALYZE if _pg13(ctx) else TABLES_DUE_FOR_ANALYZE_BEFORE_PG13
    return [
        Finding(
            "tables_due_for_analyze",
            Severity.INFO if auto else Severity.WARNING,
            qualified(schema, table),
            f"due for ANALYZE: {changed} rows changed since the last analyze > threshold"
            f" {limit:.0f}" + _autovacuum_note(auto),
            (
                Evidence("schema", schema),
                Evidence("table", table),
                Evidence("n_mod_since_analyze", changed),
                Evidence("threshold", round(limit, 1)),
                Evidence("reltuples", tuples),
                Evidence("autovacuum_enabled", "yes" if auto else "no"),
                Evidence("last_analyze", None if last is None else last.isoformat()),
            ),
        )
        for schema, table, changed, limit, tuples, auto, last in ctx.fetch(query)
    ]


def _autovacuum_note(enabled: bool) -> str:
    return "" if enabled else "; autovacuum is disabled for it, so only a manual run will do it"


def _pg13(ctx: CheckContext) -> bool:
    return ctx.conn.info.server_version >= 130000
