"""Versioned schema migrations for both backends.

To add a table or index, append one :class:`Migration` with the next version and the statements
for each dialect. A released migration is never edited: the ``schema_migrations`` table records
which versions a database already has, and only the missing ones are applied, each in its own
transaction. On PostgreSQL the tables live in the ``perfpilot`` schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; each dialect's statements run in order inside one transaction."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


# Timestamps: timestamptz on PostgreSQL; on SQLite, ISO-8601 text in UTC with a fixed width
# (microseconds, +00:00) so that text order is time order and range queries can use indexes.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="resource rollups and alerts",
        sqlite=(
            """CREATE TABLE resource_rollups (
                series TEXT NOT NULL,
                minute TEXT NOT NULL,
                avg REAL NOT NULL,
                min REAL NOT NULL,
                max REAL NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (series, minute)
            )""",
            # Loads over all series and pruning filter on minute alone.
            "CREATE INDEX resource_rollups_minute ON resource_rollups (minute)",
            """CREATE TABLE alerts (
                id TEXT PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                kind TEXT NOT NULL,
                resource TEXT NOT NULL,
                severity TEXT NOT NULL,
                status TEXT NOT NULL,
                message TEXT NOT NULL,
                value REAL,
                threshold REAL,
                started_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL,
                resolved_at TEXT,
                resolved_by TEXT,
                comment TEXT
            )""",
            "CREATE INDEX alerts_started_at ON alerts (started_at)",
            "CREATE INDEX alerts_status_started_at ON alerts (status, started_at)",
            "CREATE INDEX alerts_severity_started_at ON alerts (severity, started_at)",
        ),
        postgres=(
            """CREATE TABLE perfpilot.resource_rollups (
                series text NOT NULL,
                minute timestamptz NOT NULL,
                avg double precision NOT NULL,
                min double precision NOT NULL,
                max double precision NOT NULL,
                count bigint NOT NULL,
                PRIMARY KEY (series, minute)
            )""",
            "CREATE INDEX resource_rollups_minute ON perfpilot.resource_rollups (minute)",
            """CREATE TABLE perfpilot.alerts (
                id text PRIMARY KEY,
                fingerprint text NOT NULL,
                kind text NOT NULL,
                resource text NOT NULL,
                severity text NOT NULL,
                status text NOT NULL,
                message text NOT NULL,
                value double precision,
                threshold double precision,
                started_at timestamptz NOT NULL,
                last_seen_at timestamptz NOT NULL,
                resolved_at timestamptz,
                resolved_by text,
                comment text
            )""",
            "CREATE INDEX alerts_started_at ON perfpilot.alerts (started_at)",
            "CREATE INDEX alerts_status_started_at ON perfpilot.alerts (status, started_at)",
            "CREATE INDEX alerts_severity_started_at ON perfpilot.alerts (severity, started_at)",
        ),
    ),
    Migration(
        version=2,
        description="pg_stat_statements snapshots",
        # One row per workload period (the delta between two snapshots) and one per statement
        # entry active in it; rows are written before their period, which publishes them.
        sqlite=(
            """CREATE TABLE workload_periods (
                database TEXT NOT NULL,
                ended_at TEXT NOT NULL,
                started_at TEXT NOT NULL,
                stats_reset INTEGER NOT NULL,
                PRIMARY KEY (database, ended_at)
            )""",
            "CREATE INDEX workload_periods_ended_at ON workload_periods (ended_at)",
            """CREATE TABLE workload_statements (
                database TEXT NOT NULL,
                ended_at TEXT NOT NULL,
                queryid INTEGER NOT NULL,
                userid INTEGER NOT NULL,
                toplevel INTEGER NOT NULL,
                fingerprint TEXT NOT NULL,
                query TEXT NOT NULL,
                calls INTEGER NOT NULL,
                total_ms REAL NOT NULL,
                rows INTEGER NOT NULL,
                shared_blks_hit INTEGER NOT NULL,
                shared_blks_read INTEGER NOT NULL,
                PRIMARY KEY (database, ended_at, queryid, userid, toplevel)
            )""",
            "CREATE INDEX workload_statements_ended_at ON workload_statements (ended_at)",
        ),
        postgres=(
            """CREATE TABLE perfpilot.workload_periods (
                database text NOT NULL,
                ended_at timestamptz NOT NULL,
                started_at timestamptz NOT NULL,
                stats_reset boolean NOT NULL,
                PRIMARY KEY (database, ended_at)
            )""",
            "CREATE INDEX workload_periods_ended_at ON perfpilot.workload_periods (ended_at)",
            """CREATE TABLE perfpilot.workload_statements (
                database text NOT NULL,
                ended_at timestamptz NOT NULL,
                queryid bigint NOT NULL,
                userid bigint NOT NULL,
                toplevel boolean NOT NULL,
                fingerprint text NOT NULL,
                query text NOT NULL,
                calls bigint NOT NULL,
                total_ms double precision NOT NULL,
                rows bigint NOT NULL,
                shared_blks_hit bigint NOT NULL,
                shared_blks_read bigint NOT NULL,
                PRIMARY KEY (database, ended_at, queryid, userid, toplevel)
            )""",
            "CREATE INDEX workload_statements_ended_at ON perfpilot.workload_statements (ended_at)",
        ),
    ),
    Migration(
        version=3,
        description="audit log and the tuner's own indexes",
        sqlite=(
            """CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                component TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                statement TEXT NOT NULL,
                reason TEXT NOT NULL,
                trigger TEXT NOT NULL,
                risk TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL,
                before_json TEXT NOT NULL,
                after_json TEXT NOT NULL
            )""",
            "CREATE INDEX audit_log_at ON audit_log (at)",
            """CREATE TABLE tuner_indexes (
                schema_name TEXT NOT NULL,
                index_name TEXT NOT NULL,
                table_name TEXT NOT NULL,
                definition TEXT NOT NULL,
                created_at TEXT NOT NULL,
                fingerprints_json TEXT NOT NULL,
                before_mean_ms REAL,
                verdict TEXT,
                judged_at TEXT,
                detail TEXT,
                PRIMARY KEY (schema_name, index_name)
            )""",
        ),
        postgres=(
            """CREATE TABLE perfpilot.audit_log (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL,
                component text NOT NULL,
                action text NOT NULL,
                target text NOT NULL,
                statement text NOT NULL,
                reason text NOT NULL,
                trigger text NOT NULL,
                risk text NOT NULL,
                outcome text NOT NULL,
                detail text NOT NULL,
                before_json text NOT NULL,
                after_json text NOT NULL
            )""",
            "CREATE INDEX audit_log_at ON perfpilot.audit_log (at)",
            """CREATE TABLE perfpilot.tuner_indexes (
                schema_name text NOT NULL,
                index_name text NOT NULL,
                table_name text NOT NULL,
                definition text NOT NULL,
                created_at timestamptz NOT NULL,
                fingerprints_json text NOT NULL,
                before_mean_ms double precision,
                verdict text,
                judged_at timestamptz,
                detail text,
                PRIMARY KEY (schema_name, index_name)
            )""",
        ),
    ),
    Migration(
        version=4,
        description="scheduler run history and task overrides",
        sqlite=(
            """CREATE TABLE scheduler_runs (
                id TEXT PRIMARY KEY,
                task_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                scheduled_for TEXT NOT NULL,
                status TEXT NOT NULL,
                runner TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT,
                attempts INTEGER NOT NULL,
                error TEXT,
                summary TEXT
            )""",
            # History per task, the slot check and the last fire time all filter on these.
            "CREATE INDEX scheduler_runs_task ON scheduler_runs (task_id, scheduled_for)",
            "CREATE INDEX scheduler_runs_scheduled ON scheduler_runs (scheduled_for)",
            """CREATE TABLE scheduler_task_overrides (
                task_id TEXT PRIMARY KEY,
                enabled INTEGER,
                cron_expression TEXT,
                timezone TEXT,
                updated_at TEXT NOT NULL
            )""",
        ),
        postgres=(
            """CREATE TABLE perfpilot.scheduler_runs (
                id text PRIMARY KEY,
                task_id text NOT NULL,
                trigger text NOT NULL,
                scheduled_for timestamptz NOT NULL,
                status text NOT NULL,
                runner text NOT NULL,
                started_at timestamptz,
                finished_at timestamptz,
                attempts integer NOT NULL,
                error text,
                summary text
            )""",
            "CREATE INDEX scheduler_runs_task ON perfpilot.scheduler_runs (task_id, scheduled_for)",
            "CREATE INDEX scheduler_runs_scheduled ON perfpilot.scheduler_runs (scheduled_for)",
            """CREATE TABLE perfpilot.scheduler_task_overrides (
                task_id text PRIMARY KEY,
                enabled boolean,
                cron_expression text,
                timezone text,
                updated_at timestamptz NOT NULL
            )""",
        ),
    ),
    Migration(
        version=5,
        description="cache optimizer TTL changes with hit ratio before and after",
        sqlite=(
            """CREATE TABLE cache_ttl_changes (
                id TEXT PRIMARY KEY,
                namespace TEXT NOT NULL,
                at TEXT NOT NULL,
                before_ttl_ms INTEGER,
                after_ttl_ms INTEGER NOT NULL,
                hit_ratio_before REAL,
                lookups_before INTEGER NOT NULL,
                reason TEXT NOT NULL,
                hit_ratio_after REAL,
                lookups_after INTEGER,
                judged_at TEXT
            )""",
            "CREATE INDEX cache_ttl_changes_at ON cache_ttl_changes (at)",
        ),
        postgres=(
            """CREATE TABLE perfpilot.cache_ttl_changes (
                id text PRIMARY KEY,
                namespace text NOT NULL,
                at timestamptz NOT NULL,
                before_ttl_ms bigint,
                after_ttl_ms bigint NOT NULL,
                hit_ratio_before double precision,
                lookups_before bigint NOT NULL,
                reason text NOT NULL,
                hit_ratio_after double precision,
                lookups_after bigint,
                judged_at timestamptz
            )""",
            "CREATE INDEX cache_ttl_changes_at ON perfpilot.cache_ttl_changes (at)",
        ),
    ),
    Migration(
        version=6,
        description="auto scaler decisions, rule overrides and demand minutes",
        sqlite=(
            """CREATE TABLE scaling_decisions (
                id TEXT PRIMARY KEY,
                service TEXT NOT NULL,
                at TEXT NOT NULL,
                executed INTEGER NOT NULL,
                body TEXT NOT NULL
            )""",
            "CREATE INDEX scaling_decisions_at ON scaling_decisions (at)",
            """CREATE TABLE scaling_rule_overrides (
                service TEXT NOT NULL,
                rule TEXT NOT NULL,
                fields TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (service, rule)
            )""",
            """CREATE TABLE scaling_demand (
                series TEXT NOT NULL,
                minute TEXT NOT NULL,
                mean REAL NOT NULL,
                samples INTEGER NOT NULL,
                PRIMARY KEY (series, minute)
            )""",
        ),
        postgres=(
            """CREATE TABLE perfpilot.scaling_decisions (
                id text PRIMARY KEY,
                service text NOT NULL,
                at timestamptz NOT NULL,
                executed boolean NOT NULL,
                body text NOT NULL
            )""",
            "CREATE INDEX scaling_decisions_at ON perfpilot.scaling_decisions (at)",
            """CREATE TABLE perfpilot.scaling_rule_overrides (
                service text NOT NULL,
                rule text NOT NULL,
                fields text NOT NULL,
                updated_at timestamptz NOT NULL,
                PRIMARY KEY (service, rule)
            )""",
            """CREATE TABLE perfpilot.scaling_demand (
                series text NOT NULL,
                minute timestamptz NOT NULL,
                mean double precision NOT NULL,
                samples integer NOT NULL,
                PRIMARY KEY (series, minute)
            )""",
        ),
    ),
    Migration(
        version=7,
        description="performance optimizer action history and benchmark runs",
        sqlite=(
            """CREATE TABLE optimization_actions (
                id TEXT PRIMARY KEY,
                at TEXT NOT NULL,
                type TEXT NOT NULL,
                status TEXT NOT NULL,
                body TEXT NOT NULL
            )""",
            "CREATE INDEX optimization_actions_at ON optimization_actions (at)",
            """CREATE TABLE benchmark_runs (
                at TEXT PRIMARY KEY,
                body TEXT NOT NULL
            )""",
        ),
        postgres=(
            """CREATE TABLE perfpilot.optimization_actions (
                id text PRIMARY KEY,
                at timestamptz NOT NULL,
                type text NOT NULL,
                status text NOT NULL,
                body text NOT NULL
            )""",
            "CREATE INDEX optimization_actions_at ON perfpilot.optimization_actions (at)",
            """CREATE TABLE perfpilot.benchmark_runs (
                at timestamptz PRIMARY KEY,
                body text NOT NULL
            )""",
        ),
    ),
)


def latest_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """The version a fully migrated database reports."""
    return max((m.version for m in migrations), default=0)


def pending(applied: set[int], migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Migrations not in ``applied``, in version order."""
    return sorted((m for m in migrations if m.version not in applied), key=lambda m: m.version)
