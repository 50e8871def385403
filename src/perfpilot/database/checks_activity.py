"""Checks on sessions and statements: slow, long-running, idle in transaction, blocked, counts.

Session states and columns: https://www.postgresql.org/docs/current/monitoring-stats.html
(pg_stat_activity). Without pg_read_all_stats, other roles' sessions show no state or query.
"""

from __future__ import annotations

from perfpilot.database.checks_model import CheckContext, Evidence, Finding, Severity
from perfpilot.database.workload import group_statements, read_workload
from perfpilot.database.workload_availability import WorkloadStatus

LONG_RUNNING_QUERIES = """/* perfpilot */ SELECT pid, usename, application_name, state,
    EXTRACT(EPOCH FROM now() - query_start)::float8 AS duration_s,
    wait_event_type, wait_event, left(query, %(text_limit)s)
FROM pg_stat_activity
WHERE datname = current_database()
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND state IN ('active', 'fastpath function call')
  AND query_start < now() - make_interval(secs => %(min_s)s)
ORDER BY query_start"""

IDLE_IN_TRANSACTION_SESSIONS = """/* perfpilot */ SELECT pid, usename, application_name, state,
    EXTRACT(EPOCH FROM now() - state_change)::float8 AS idle_s,
    EXTRACT(EPOCH FROM now() - xact_start)::float8 AS transaction_s,
    age(backend_xmin) AS xmin_age, left(query, %(text_limit)s)
FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND state_change < now() - make_interval(secs => %(min_s)s)
ORDER BY state_change"""

# max_connections counts the whole cluster; superuser_reserved_connections of it are kept for
# superusers. https://www.postgresql.org/docs/current/runtime-config-connection.html
CONNECTIONS_BY_STATE = """/* perfpilot */ SELECT coalesce(state, 'unknown') AS state,
    count(*) FILTER (WHERE datname = current_database()) AS in_database,
    count(*) AS in_cluster,
    current_setting('max_connections')::int,
    current_setting('superuser_reserved_connections')::int
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1
ORDER BY 1"""

# pg_blocking_pids takes the lock manager's locks briefly, so it is only called for sessions
# that wait on a lock. https://www.postgresql.org/docs/current/functions-info.html
BLOCKED_QUERIES_AND_BLOCKERS = """/* perfpilot */ SELECT blocked.pid, blocked.usename,
    left(blocked.query, %(text_limit)s),
    EXTRACT(EPOCH FROM now() - blocked.query_start)::float8 AS waiting_s,
    blocked.wait_event,
    blocker.pid, blocker.usename, blocker.state, left(blocker.query, %(text_limit)s),
    EXTRACT(EPOCH FROM now() - blocker.xact_start)::float8 AS blocker_transaction_s
FROM pg_stat_activity blocked
CROSS JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid)
LEFT JOIN pg_stat_activity blocker ON blocker.pid = b.pid
WHERE blocked.datname = current_database() AND blocked.wait_event_type = 'Lock'
ORDER BY blocked.query_start, blocker.pid"""


def slow_queries(ctx: CheckContext) -> list[Finding]:
    """Statement groups with mean time and calls at or above the thresholds (pg_stat_statements)."""
    t = ctx.thresholds
    reading = read_workload(ctx.conn, ctx.now)
    if reading.snapshot is None:
        availability = reading.availability
        return [
            Finding(
                "slow_queries",
                Severity.WARNING,
                availability.database,
                f"{availability.message}; to fix: {'; '.join(availability.remedies)}",
                (Evidence("status", availability.status.value),),
            )
        ]
    findings = []
    if reading.availability.status is WorkloadStatus.LIMITED:
        # Other roles' statements are still counted but hidden from this role.
        availability = reading.availability
        findings.append(
            Finding(
                "slow_queries",
                Severity.INFO,
                availability.database,
                f"{availability.message}; to see all: {'; '.join(availability.remedies)}",
                (Evidence("status", availability.status.value),),
            )
        )
    for group in group_statements(reading.snapshot.statements):
        mean = group.mean_ms
        if mean is None or mean < t.slow_query_mean_ms or group.calls < t.slow_query_min_calls:
            continue
        findings.append(
            Finding(
                "slow_queries",
                Severity.WARNING,
                group.fingerprint,
                f"{mean:.1f} ms on average over {group.calls} calls: {group.query[:200]}",
                (
                    Evidence("mean_ms", round(mean, 3), "ms"),
                    Evidence("calls", group.calls),
                    Evidence("total_ms", round(group.total_ms, 3), "ms"),
                    Evidence("rows", group.rows),
                    Evidence("hit_ratio", group.hit_ratio),
                    Evidence("query", group.query[: t.query_text_limit]),
                ),
            )
        )
    return findings


def long_running_queries(ctx: CheckContext) -> list[Finding]:
    """Statements of this database running longer than ``long_running_s``."""
    t = ctx.thresholds
    rows = ctx.fetch(LONG_RUNNING_QUERIES, min_s=t.long_running_s, text_limit=t.query_text_limit)
    return [
        Finding(
            "long_running_queries",
            Severity.WARNING,
            f"pid {pid}",
            f"running for {duration:.0f} s (user {user}, application {app!r})",
            (
                Evidence("pid", pid),
                Evidence("duration_s", round(duration, 3), "s"),
                Evidence("user", user),
                Evidence("application_name", app),
                Evidence("state", state),
                Evidence("wait_event", None if wait is None else f"{wait_type}:{wait}"),
                Evidence("query", query),
            ),
        )
        for pid, user, app, state, duration, wait_type, wait, query in rows
    ]


def idle_in_transaction_sessions(ctx: CheckContext) -> list[Finding]:
    """Sessions idle inside an open transaction for longer than ``idle_in_transaction_s``."""
    t = ctx.thresholds
    rows = ctx.fetch(
        IDLE_IN_TRANSACTION_SESSIONS, min_s=t.idle_in_transaction_s, text_limit=t.query_text_limit
    )
    return [
        Finding(
            "idle_in_transaction",
            Severity.WARNING,
            f"pid {pid}",
            f"{state} for {idle:.0f} s (user {user}, application {app!r}); it holds its locks"
            " and keeps VACUUM from removing rows newer than its snapshot",
            (
                Evidence("pid", pid),
                Evidence("idle_s", round(idle, 3), "s"),
                Evidence("transaction_s", None if xact is None else round(xact, 3), "s"),
                Evidence("xmin_age", xmin_age, "transactions"),
                Evidence("user", user),
                Evidence("application_name", app),
                Evidence("last_query", query),
            ),
        )
        for pid, user, app, state, idle, xact, xmin_age, query in rows
    ]


def connections(ctx: CheckContext) -> list[Finding]:
    """Client connections by state, and the cluster's total against ``max_connections``."""
    t = ctx.thresholds
    rows = ctx.fetch(CONNECTIONS_BY_STATE)
    findings = [
        Finding(
            "connections",
            Severity.INFO,
            f"state {state}",
            f"{in_db} connections to this database are {state} ({in_cluster} in the cluster)",
            (Evidence("in_database", in_db), Evidence("in_cluster", in_cluster)),
        )
        for state, in_db, in_cluster, _, _ in rows
    ]
    max_connections, reserved = rows[0][3], rows[0][4]
    total = sum(row[2] for row in rows)
    available = max(max_connections - reserved, 1)
    ratio = total / available
    severity = Severity.INFO
    if ratio >= t.connections_critical_ratio:
        severity = Severity.CRITICAL
    elif ratio >= t.connections_warning_ratio:
        severity = Severity.WARNING
    findings.append(
        Finding(
            "connections",
            severity,
            "cluster",
            f"{total} of {available} non-reserved connections in use ({ratio:.0%})",
            (
                Evidence("total", total),
                Evidence("max_connections", max_connections),
                Evidence("superuser_reserved_connections", reserved),
                Evidence("used_ratio", round(ratio, 4)),
            ),
        )
    )
    return findings


def blocked_queries(ctx: CheckContext) -> list[Finding]:
    """Each session waiting on a lock, with the session holding it."""
    t = ctx.thresholds
    rows = ctx.fetch(BLOCKED_QUERIES_AND_BLOCKERS, text_limit=t.query_text_limit)
    findings = []
    for pid, user, query, waiting, event, b_pid, b_user, b_state, b_query, b_xact in rows:
        long = waiting is not None and waiting >= t.long_running_s
        findings.append(
            Finding(
                "blocked_queries",
                Severity.CRITICAL if long else Severity.WARNING,
                f"pid {pid}",
                f"waiting for a {event} lock held by pid {b_pid} ({b_state})",
                (
                    Evidence("pid", pid),
                    Evidence("user", user),
                    Evidence("waiting_s", None if waiting is None else round(waiting, 3), "s"),
                    Evidence("lock", event),
                    Evidence("query", query),
                    Evidence("blocker_pid", b_pid),
                    Evidence("blocker_user", b_user),
                    Evidence("blocker_state", b_state),
                    Evidence("blocker_transaction_s", _round(b_xact), "s"),
                    Evidence("blocker_query", b_query),
                ),
            )
        )
    return findings


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
