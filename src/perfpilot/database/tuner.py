"""The Database Tuner: reads the target database, advises, and applies what it is allowed to.

Every method blocks (psycopg, sync) and is called from a worker thread (``asyncio.to_thread``)
by the API and the scheduler. Each opens its own short connection, so a database that went
away shows up as a clear error on the next call instead of a broken shared session.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from perfpilot.core.audit import AuditEntry, AuditLog, Outcome
from perfpilot.core.clock import Clock
from perfpilot.core.risk import RiskPolicy, Trigger, permits
from perfpilot.core.settings import DatabaseConfig
from perfpilot.database import actions
from perfpilot.database.advisor import AdvisorPolicy, WorkloadQuery, advise
from perfpilot.database.candidates import CandidatePolicy
from perfpilot.database.checks import HealthReport, run_checks
from perfpilot.database.checks_model import CheckThresholds
from perfpilot.database.connection import APPLICATION_NAME
from perfpilot.database.impact import IndexEvidence, judge_index
from perfpilot.database.ledger import BuiltIndex, IndexLedger
from perfpilot.database.pgtune import DbType, Storage, TuneInputs, recommend
from perfpilot.database.pgtune_compare import (
    SettingChange,
    memory_warnings,
    read_current_settings,
)
from perfpilot.database.pgtune_compare import compare as compare_settings
from perfpilot.database.pgtune_host import detect_host
from perfpilot.database.plan import (
    ActionKind,
    PlannedAction,
    index_actions,
    setting_actions,
    vacuum_actions,
)
from perfpilot.database.ports import StatementSnapshotStore
from perfpilot.database.recommendation import AdvisorReport
from perfpilot.database.selection import SelectionPolicy
from perfpilot.database.workload import (
    StatementGroup,
    WorkloadReading,
    group_statements,
    read_workload,
)
from perfpilot.database.workload_delta import workload_since
from perfpilot.database.workload_recorder import WorkloadRecorder
from perfpilot.database.workload_totals import WorkloadTotals

logger = logging.getLogger(__name__)

Conn = psycopg.Connection[TupleRow]

# Index advice looks at the last day of recorded deltas when there are any: a day covers the
# daily cycle of a hotel platform (check-ins in the afternoon, reports at night).
ADVICE_WINDOW = timedelta(days=1)
TOP_STATEMENTS = 25

_SCHEMAS = """/* perfpilot */
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'perfpilot', 'pg_toast')
  AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'
ORDER BY nspname"""
_INDEX_SCANS = """/* perfpilot */
SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = %s AND indexrelname = %s"""


@dataclass(frozen=True, slots=True)
class TunerReport:
    """Everything the tuner knows about the target database at ``generated_at``."""

    generated_at: datetime
    database: str
    server_version: str
    workload: WorkloadReading
    window: str
    statements: tuple[StatementGroup, ...]
    health: HealthReport
    indexes: AdvisorReport | None
    indexes_reason: str | None
    configuration: tuple[SettingChange, ...]
    configuration_warnings: tuple[str, ...]
    built_indexes: tuple[BuiltIndex, ...]
    actions: tuple[PlannedAction, ...]


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    action: PlannedAction
    outcome: Outcome
    detail: str
    statement: str


class UnknownActions(ValueError):
    """The request named action ids the current plan does not contain."""


class DatabaseTuner:
    def __init__(
        self,
        dsn: str,
        config: DatabaseConfig,
        clock: Clock,
        snapshots: StatementSnapshotStore,
        ledger: IndexLedger,
        audit: AuditLog,
        policy: RiskPolicy,
        cgroup_root: str = "/sys/fs/cgroup",
    ) -> None:
        self._dsn = dsn
        self._config = config
        self._clock = clock
        self._snapshots = snapshots
        self._ledger = ledger
        self._audit = audit
        self._policy = replace(policy, allow_high=config.allow_alter_system)
        self._cgroup_root = cgroup_root
        self._recorder = WorkloadRecorder(snapshots, clock)

    @contextmanager
    def _connect(self) -> Iterator[Conn]:
        with psycopg.connect(
            self._dsn, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=5
        ) as conn:
            conn.execute(
                sql.SQL("/* perfpilot */ SET statement_timeout = {}").format(
                    sql.Literal(self._config.statement_timeout_ms)
                )
            )
            yield conn

    def record_workload(self) -> bool:
        """Take a pg_stat_statements snapshot and store the delta; False for a baseline."""
        with self._connect() as conn:
            _, delta = self._recorder.record(conn)
        return delta is not None

    @property
    def workload_totals(self) -> WorkloadTotals | None:
        """Statement totals since the first workload snapshot; None before it."""
        return self._recorder.totals

    def report(self) -> TunerReport:
        """Workload, health checks, index and configuration advice, and the action plan."""
        now = self._clock.now()
        with self._connect() as conn:
            version = show(conn, "server_version")
            reading = read_workload(conn, now)
            statements, window, window_s = self._statements(reading, now)
            health = run_checks(conn, now, self._thresholds(), schemas=self._config.schemas or None)
            indexes, reason = self._advise(conn, statements, window_s)
            configuration, warnings = self._configuration(conn)
            database = conn.info.dbname
        ledger = self._ledger.built()
        mean_ms = {g.fingerprint: g.mean_ms for g in statements if g.mean_ms is not None}
        planned = [
            *(index_actions(indexes.recommendations, ledger, mean_ms) if indexes else []),
            *vacuum_actions(health),
            *setting_actions(configuration),
        ]
        return TunerReport(
            generated_at=now,
            database=database,
            server_version=version,
            workload=reading,
            window=window,
            statements=tuple(sorted(statements, key=lambda g: -g.total_ms)[:TOP_STATEMENTS]),
            health=health,
            indexes=indexes,
            indexes_reason=reason,
            configuration=tuple(configuration),
            configuration_warnings=tuple(warnings),
            built_indexes=tuple(ledger),
            actions=tuple(planned),
        )

    def _thresholds(self) -> CheckThresholds:
        return CheckThresholds(
            slow_query_mean_ms=self._config.slow_query_mean_ms,
            slow_query_min_calls=self._config.slow_query_calls,
            statement_timeout_ms=self._config.statement_timeout_ms,
        )

    def _statements(
        self, reading: WorkloadReading, now: datetime
    ) -> tuple[list[StatementGroup], str, float | None]:
        if reading.snapshot is None:
            return [], f"unavailable: {reading.availability.message}", None
        deltas = self._snapshots.load_workload_deltas(
            reading.snapshot.database, now - ADVICE_WINDOW
        )
        if deltas:
            since = min(d.started_at for d in deltas)
            groups = workload_since(deltas, since)
            return groups, f"recorded since {since.isoformat()}", (now - since).total_seconds()
        groups = group_statements(reading.snapshot.statements)
        reset = reading.snapshot.stats_reset_at
        if reset is None:
            return groups, "since the statistics were last reset (time unknown)", None
        return (
            groups,
            f"since the statistics reset at {reset.isoformat()}",
            (now - reset).total_seconds(),
        )

    def _schemas(self, conn: Conn) -> tuple[str, ...]:
        if self._config.schemas:
            return self._config.schemas
        return tuple(str(row[0]) for row in conn.execute(_SCHEMAS).fetchall())

    def _advise(
        self, conn: Conn, statements: list[StatementGroup], window_s: float | None
    ) -> tuple[AdvisorReport | None, str | None]:
        workload = [
            WorkloadQuery(g.fingerprint, g.query, g.calls, g.total_ms, g.mean_ms)
            for g in statements
            if g.mean_ms is not None
        ]
        if not workload:
            return None, "no workload to advise on (pg_stat_statements empty or unavailable)"
        policy = AdvisorPolicy(
            schemas=self._schemas(conn),
            candidates=CandidatePolicy(min_rows=self._config.min_table_rows),
            selection=SelectionPolicy(
                max_new_per_table=self._config.max_new_indexes_per_table,
                budget_bytes=int(self._config.index_size_budget_mb * 1024 * 1024),
            ),
            statement_timeout_ms=self._config.statement_timeout_ms,
            lock_timeout_ms=self._config.lock_timeout_ms,
        )
        return advise(conn, workload, policy, window_s), None

    def _configuration(self, conn: Conn) -> tuple[list[SettingChange], list[str]]:
        host = detect_host_or_configured(self._config, self._cgroup_root)
        max_connections = int(show(conn, "max_connections"))
        version_num = int(show(conn, "server_version_num"))
        advice = recommend(
            TuneInputs(
                memory_bytes=host[0],
                cpus=host[1],
                db_type=DbType(self._config.db_type),
                storage=Storage(self._config.storage),
                max_connections=max_connections,
                server_version_num=version_num,
            )
        )
        current = read_current_settings(conn, [a.name for a in advice] + ["max_connections"])
        return compare_settings(advice, current), memory_warnings(host[0], advice, current)

    def optimize(
        self, trigger: Trigger, action_ids: Collection[str] | None = None
    ) -> tuple[TunerReport, list[ActionOutcome]]:
        """Plan, then apply the allowed actions (those named, or all); each outcome audited."""
        report = self.report()
        chosen = list(report.actions)
        if action_ids is not None:
            known = {a.id for a in report.actions}
            unknown = sorted(set(action_ids) - known)
            if unknown:
                raise UnknownActions(
                    f"actions: unknown ids {unknown}; the current plan has {sorted(known)}"
                )
            chosen = [a for a in report.actions if a.id in set(action_ids)]
        return report, [self._apply(action, trigger) for action in chosen]

    def maintenance(self, trigger: Trigger) -> list[ActionOutcome]:
        """VACUUM (ANALYZE) each due table, one at a time (the scheduler's daily task)."""
        now = self._clock.now()
        with self._connect() as conn:
            health = run_checks(
                conn,
                now,
                self._thresholds(),
                schemas=self._config.schemas or None,
                only=("tables_due_for_vacuum", "tables_due_for_analyze"),
            )
        return [self._apply(action, trigger) for action in vacuum_actions(health)]

    def _apply(self, action: PlannedAction, trigger: Trigger) -> ActionOutcome:
        permission = permits(self._policy, action.risk, trigger)
        if not permission.allowed:
            outcome = Outcome.PLANNED if trigger is Trigger.REQUEST else Outcome.SKIPPED
            return ActionOutcome(action, outcome, permission.reason, action.statement)
        try:
            result = self._run(action)
        except actions.TunerBusy as exc:
            result = actions.ChangeResult(Outcome.SKIPPED, action.statement, str(exc))
        except psycopg.Error as exc:
            result = actions.ChangeResult(
                Outcome.FAILED, action.statement, f"{type(exc).__name__}: {exc}"
            )
        self._record(action, trigger, result)
        return ActionOutcome(action, result.outcome, result.detail, result.statement)

    def _run(self, action: PlannedAction) -> actions.ChangeResult:
        timeout = (
            self._config.index_build_timeout_ms
            if action.kind is ActionKind.CREATE_INDEX
            else self._config.statement_timeout_ms
        )
        with actions.tuner_session(self._dsn, timeout, self._config.lock_timeout_ms) as conn:
            if action.kind is ActionKind.CREATE_INDEX:
                build = actions.IndexBuild(
                    action.schema,
                    action.table,
                    action.name,
                    action.keys,
                    comment=f"perfpilot: {action.reason}",
                )
                return actions.create_index(conn, build)
            if action.kind is ActionKind.VACUUM_ANALYZE:
                return actions.vacuum_analyze(conn, action.schema, action.table)
            return actions.alter_system(conn, action.name, action.value)

    def _record(
        self, action: PlannedAction, trigger: Trigger, result: actions.ChangeResult
    ) -> None:
        now = self._clock.now()
        if action.kind is ActionKind.CREATE_INDEX and result.outcome is Outcome.APPLIED:
            self._ledger.record_built(
                BuiltIndex(
                    schema=action.schema,
                    name=action.name,
                    table=action.table,
                    definition=", ".join(action.keys),
                    created_at=now,
                    fingerprints=action.fingerprints,
                    before_mean_ms=action.before_mean_ms,
                )
            )
        self._audit.record(
            AuditEntry(
                at=now,
                component="database",
                action=action.kind.value,
                target=action.target,
                statement=result.statement,
                reason=action.reason,
                trigger=trigger.value,
                risk=action.risk.value,
                outcome=result.outcome,
                detail=result.detail,
                before={"mean_ms": action.before_mean_ms},
            )
        )

    def judge_indexes(self) -> list[tuple[BuiltIndex, str]]:
        """Judge each built index past its settle window; drop the ones that did not help."""
        now = self._clock.now()
        settle = timedelta(minutes=self._config.settle_minutes)
        judged = []
        for built in self._ledger.built():
            if built.verdict is not None:
                continue
            evidence = self._evidence(built, now)
            if evidence is None:
                continue
            judgement = judge_index(evidence, now, settle)
            if judgement.verdict.value == "too_early":
                continue
            if judgement.drop:
                self._drop(built, judgement.reason)
            self._ledger.set_verdict(
                built.schema, built.name, judgement.verdict, now, judgement.reason
            )
            judged.append((built, judgement.verdict.value))
        return judged

    def _evidence(self, built: BuiltIndex, now: datetime) -> IndexEvidence | None:
        with self._connect() as conn:
            row = conn.execute(_INDEX_SCANS, (built.schema, built.name)).fetchone()
            database = conn.info.dbname
        if row is None:
            logger.warning("index %s.%s is gone; not judged", built.schema, built.name)
            return None
        deltas = self._snapshots.load_workload_deltas(database, built.created_at)
        after = [
            g
            for g in workload_since(deltas, built.created_at)
            if g.fingerprint in built.fingerprints
        ]
        calls = sum(g.calls for g in after)
        total = sum(g.total_ms for g in after)
        return IndexEvidence(
            created_at=built.created_at,
            before_mean_ms=built.before_mean_ms,
            after_mean_ms=total / calls if calls else None,
            after_calls=calls,
            index_scans=int(row[0] or 0),
        )

    def _drop(self, built: BuiltIndex, reason: str) -> None:
        with actions.tuner_session(
            self._dsn, self._config.statement_timeout_ms, self._config.lock_timeout_ms
        ) as conn:
            result = actions.drop_index(conn, built.schema, built.name)
        self._audit.record(
            AuditEntry(
                at=self._clock.now(),
                component="database",
                action="drop_index",
                target=f"{built.schema}.{built.name}",
                statement=result.statement,
                reason=f"did not help: {reason}",
                trigger=Trigger.SCHEDULED.value,
                risk="medium",
                outcome=Outcome.REVERTED if result.outcome is Outcome.APPLIED else result.outcome,
                detail=result.detail,
                before={"mean_ms": built.before_mean_ms},
            )
        )


def show(conn: Conn, setting: str) -> str:
    """A setting's current value as text (``current_setting``)."""
    row = conn.execute("/* perfpilot */ SELECT current_setting(%s)", (setting,)).fetchone()
    if row is None:
        raise LookupError(f"setting {setting} not found")
    return str(row[0])


def detect_host_or_configured(config: DatabaseConfig, cgroup_root: str) -> tuple[int, int]:
    """(RAM bytes, CPUs) of the database host: configured when remote, detected when local."""
    if config.host_memory_bytes is not None and config.host_cpus is not None:
        return config.host_memory_bytes, config.host_cpus
    host = detect_host(Path(cgroup_root))
    return (
        config.host_memory_bytes or host.memory_bytes,
        config.host_cpus or host.cpus,
    )
