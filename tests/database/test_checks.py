"""Health checks against the real test PostgreSQL: each scenario is built, its finding asserted."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from perfpilot.database.checks import CHECKS, HealthReport, run_checks
from perfpilot.database.checks_model import CheckThresholds, Finding, Severity

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


def report(conn: Conn, *checks: str, **thresholds: Any) -> HealthReport:
    return run_checks(conn, NOW, CheckThresholds(**thresholds), only=checks)


def subjects(findings: list[Finding]) -> set[str]:
    return {f.subject for f in findings}


def flush_stats(conn: Conn) -> None:
    """Publish this session's pending table statistics now (PostgreSQL 15+)."""
    conn.execute("SELECT pg_stat_force_next_flush()")


def wait_for(probe: Callable[[], list[Finding]], timeout_s: float = 10.0) -> list[Finding]:
    """Poll ``probe`` until it finds something; the last (empty) answer after the timeout."""
    deadline = time.monotonic() + timeout_s
    found = probe()
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = probe()
    return found


def quiet_table(conn: Conn, name: str, rows: int) -> None:
    """A table autovacuum leaves alone, so the test decides when it is vacuumed."""
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id int PRIMARY KEY, a int, b int, note text)"
            " WITH (autovacuum_enabled = false)"
        ).format(sql.Identifier(name))
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {} SELECT g, g %% 100, g %% 7, 'note ' || g FROM generate_series(1, %s) g"
        ).format(sql.Identifier(name)),
        (rows,),
    )


# ------------------------------------------------------------------ indexes


def test_unused_duplicate_and_invalid_indexes_are_found(conn: Conn) -> None:
    quiet_table(conn, "rooms", 1000)
    conn.execute("CREATE INDEX rooms_a_idx ON rooms (a)")
    conn.execute("CREATE INDEX rooms_a_b_idx ON rooms (a, b)")
    conn.execute("CREATE UNIQUE INDEX rooms_a_note_key ON rooms (a, note)")
    conn.execute("CREATE INDEX rooms_a_again ON rooms (a)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY rooms_b_key ON rooms (b)")
    conn.execute("CREATE SCHEMA other")
    conn.execute("CREATE TABLE other.t (x int)")
    conn.execute("CREATE INDEX other_x_idx ON other.t (x)")

    result = report(conn, "unused_indexes", "duplicate_indexes", "invalid_indexes")
    scoped = run_checks(conn, NOW, schemas=["public"], only=["unused_indexes"])

    unused = {f.subject: f for f in result.by_check("unused_indexes")}
    assert set(unused) == {
        "public.rooms_a_idx",
        "public.rooms_a_b_idx",
        "public.rooms_a_again",
        "other.other_x_idx",
    }
    assert unused["public.rooms_a_idx"].value("idx_scan") == 0
    size = conn.execute("SELECT pg_relation_size('rooms_a_idx')").fetchone()
    assert size is not None
    assert unused["public.rooms_a_idx"].value("size_bytes") == size[0] > 0
    assert "other.other_x_idx" not in subjects(scoped.findings)

    duplicates = {f.subject: f.value("covered_by") for f in result.by_check("duplicate_indexes")}
    # The older of two identical indexes is kept; a unique index is never "covered".
    assert duplicates == {
        "public.rooms_a_idx": "public.rooms_a_b_idx",
        "public.rooms_a_again": "public.rooms_a_idx",
    }

    invalid = result.by_check("invalid_indexes")
    assert [(f.subject, f.severity, f.value("being_built")) for f in invalid] == [
        ("public.rooms_b_key", Severity.WARNING, "no")
    ]


def test_cache_hit_ratios_match_the_counters_or_are_null_without_reads(conn: Conn) -> None:
    quiet_table(conn, "guests", 2000)
    for _ in range(5):
        conn.execute("SELECT count(*) FROM guests WHERE id < 500")
    flush_stats(conn)
    conn.execute("CREATE SCHEMA empty")

    table = report(conn, "table_hit_ratio").findings[0]
    nothing = run_checks(conn, NOW, schemas=["empty"], only=["index_hit_ratio"]).findings[0]

    hits, reads = table.value("blocks_hit"), table.value("blocks_read")
    assert isinstance(hits, int)
    assert isinstance(reads, int)
    assert hits > 0
    assert table.value("hit_ratio") == pytest.approx(hits / (hits + reads), abs=1e-6)
    assert table.severity is (Severity.WARNING if hits / (hits + reads) < 0.99 else Severity.INFO)
    assert nothing.value("hit_ratio") is None
    assert "no index blocks" in nothing.message


def test_bloat_estimates_flag_a_mostly_deleted_table_only(conn: Conn) -> None:
    quiet_table(conn, "messages", 20_000)
    quiet_table(conn, "tidy", 20_000)
    conn.execute("DELETE FROM messages WHERE id % 10 <> 0")
    conn.execute("VACUUM messages")
    conn.execute("ANALYZE messages")
    conn.execute("ANALYZE tidy")

    result = report(conn, "table_bloat", "index_bloat", bloat_min_bytes=0, bloat_min_ratio=0.5)

    tables = {f.subject: f for f in result.by_check("table_bloat")}
    assert set(tables) == {"public.messages"}
    ratio = tables["public.messages"].value("bloat_ratio")
    assert isinstance(ratio, float)
    assert 0.8 < ratio < 0.95  # 90 % of the rows are gone; the estimate is approximate
    assert subjects(result.by_check("index_bloat")) == {"public.messages_pkey"}


# ------------------------------------------------------------------ tables


def test_tables_due_for_vacuum_and_analyze_follow_per_table_settings(conn: Conn) -> None:
    for name in ("bookings", "control", "inserts"):
        quiet_table(conn, name, 1000)
    flush_stats(conn)  # the inserts first, or they would count as changes after the ANALYZE
    conn.execute("ANALYZE bookings, control")
    conn.execute(
        "ALTER TABLE bookings SET (autovacuum_vacuum_threshold = 10,"
        " autovacuum_vacuum_scale_factor = 0, autovacuum_analyze_threshold = 5,"
        " autovacuum_analyze_scale_factor = 0)"
    )
    conn.execute(
        "ALTER TABLE inserts SET (autovacuum_vacuum_insert_threshold = 100,"
        " autovacuum_vacuum_insert_scale_factor = 0, autovacuum_analyze_threshold = 1000000)"
    )
    conn.execute("DELETE FROM bookings WHERE id <= 50")
    conn.execute("DELETE FROM control WHERE id <= 50")  # below 50 + 0.2 * 1000
    flush_stats(conn)

    result = report(conn, "tables_due_for_vacuum", "tables_due_for_analyze")

    vacuum = {f.subject: f for f in result.by_check("tables_due_for_vacuum")}
    assert set(vacuum) == {"public.bookings", "public.inserts"}
    bookings = vacuum["public.bookings"]
    assert (bookings.value("n_dead_tup"), bookings.value("dead_threshold")) == (50, 10.0)
    assert bookings.value("autovacuum_enabled") == "no"
    assert bookings.severity is Severity.WARNING
    inserts = vacuum["public.inserts"]
    assert (inserts.value("n_ins_since_vacuum"), inserts.value("insert_threshold")) == (1000, 100.0)
    analyze = {f.subject: f for f in result.by_check("tables_due_for_analyze")}
    # control: 50 changes <= 50 + 0.1 * 1000; inserts: its own threshold is 1,000,000.
    assert set(analyze) == {"public.bookings"}
    assert analyze["public.bookings"].value("n_mod_since_analyze") == 50
    assert analyze["public.bookings"].value("threshold") == 5.0


def test_heavy_sequential_scans_are_flagged(conn: Conn) -> None:
    quiet_table(conn, "availability", 2000)
    quiet_table(conn, "small", 50)
    for _ in range(20):
        conn.execute("SELECT count(*) FROM availability WHERE note LIKE '%7'")
        conn.execute("SELECT count(*) FROM small")
    flush_stats(conn)

    found = report(conn, "sequential_scans", seq_scan_min_rows=1000, seq_scan_min_count=10).findings

    # 20 scans, plus the one of the empty table when its primary key was built.
    assert [(f.subject, f.value("seq_scan"), f.value("seq_tup_read")) for f in found] == [
        ("public.availability", 21, 40_000)
    ]


def test_sequences_near_their_or_their_columns_limit(conn: Conn) -> None:
    conn.execute("CREATE SEQUENCE tiny AS smallint")
    conn.execute("SELECT setval('tiny', 32000)")
    conn.execute("CREATE TABLE orders (id int)")
    conn.execute("CREATE SEQUENCE orders_id_seq OWNED BY orders.id")  # bigint sequence
    conn.execute("SELECT setval('orders_id_seq', 2000000000)")
    conn.execute("CREATE SEQUENCE roomy AS smallint")
    conn.execute("SELECT setval('roomy', 100)")

    found = {f.subject: f for f in report(conn, "sequences_near_overflow").findings}

    assert set(found) == {"public.tiny", "public.orders_id_seq"}
    tiny = found["public.tiny"]
    assert (tiny.value("last_value"), tiny.value("limit")) == (32000, 32767)
    assert tiny.value("used_ratio") == pytest.approx(32000 / 32767, abs=1e-6)
    orders = found["public.orders_id_seq"]
    assert (orders.value("limit"), orders.value("owned_by")) == (2147483647, "public.orders.id")


def test_wraparound_reports_the_database_age(conn: Conn) -> None:
    before = conn.execute(
        "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    info = report(conn, "transaction_id_wraparound").findings[0]
    warned = report(conn, "transaction_id_wraparound", xid_age_warning=0).findings[0]

    assert before is not None
    age = info.value("xid_age")
    assert isinstance(age, int)
    assert before[0] <= age < before[0] + 1000
    assert info.value("transactions_left") == 2**31 - age
    assert info.value("autovacuum_freeze_max_age") == 200_000_000
    assert info.severity is Severity.INFO
    assert warned.severity is Severity.WARNING


def test_largest_relations_are_ordered_by_total_size(conn: Conn) -> None:
    quiet_table(conn, "big", 5000)
    quiet_table(conn, "medium", 500)
    quiet_table(conn, "tiny", 5)

    found = report(conn, "largest_relations", largest_relations_limit=2).findings

    assert [f.subject for f in found] == ["public.big", "public.medium"]
    total = conn.execute("SELECT pg_total_relation_size('big')").fetchone()
    assert total is not None
    assert found[0].value("total_bytes") == total[0]


# ------------------------------------------------------------------ sessions


def test_idle_in_transaction_session_is_reported(conn: Conn, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it open
        idle_pid = idle.info.backend_pid
        time.sleep(0.3)
        found = report(conn, "idle_in_transaction", idle_in_transaction_s=0.2).findings

    assert [f.value("pid") for f in found] == [idle_pid]
    idle_s = found[0].value("idle_s")
    assert isinstance(idle_s, float)
    assert idle_s >= 0.2


def test_blocked_query_is_reported_with_its_blocker(conn: Conn, pg_dsn: str) -> None:
    quiet_table(conn, "locks", 10)
    waiter_pid: list[int] = []
    errors: list[psycopg.Error] = []

    def wait_for_lock() -> None:
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as waiter:
                waiter_pid.append(waiter.info.backend_pid)
                waiter.execute("SET lock_timeout = '10s'")
                waiter.execute("UPDATE locks SET a = 0 WHERE id = 1")
        except psycopg.Error as exc:  # asserted in the test thread below
            errors.append(exc)

    with psycopg.connect(pg_dsn) as holder:
        holder.execute("UPDATE locks SET a = 1 WHERE id = 1")
        holder_pid = holder.info.backend_pid
        thread = threading.Thread(target=wait_for_lock)
        thread.start()
        found = wait_for(lambda: report(conn, "blocked_queries").findings)
        holder.rollback()
    thread.join(timeout=15)

    assert not errors
    assert [(f.value("pid"), f.value("blocker_pid")) for f in found] == [
        (waiter_pid[0], holder_pid)
    ]
    assert found[0].value("blocker_state") == "idle in transaction"
    assert found[0].value("query") == "UPDATE locks SET a = 0 WHERE id = 1"


def test_long_running_query_and_connection_counts(conn: Conn, pg_dsn: str) -> None:
    def sleep() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as sleeper:
            sleeper.execute("SELECT pg_sleep(1.5)")

    thread = threading.Thread(target=sleep)
    thread.start()
    found = wait_for(lambda: report(conn, "long_running_queries", long_running_s=0.3).findings)
    counts = {f.subject: f for f in report(conn, "connections").findings}
    thread.join(timeout=10)

    assert [f.value("query") for f in found] == ["SELECT pg_sleep(1.5)"]
    duration = found[0].value("duration_s")
    assert isinstance(duration, float)
    assert duration >= 0.3
    assert counts["cluster"].value("max_connections") == 100
    total = counts["cluster"].value("total")
    assert isinstance(total, int)
    assert total >= 2
    assert counts["state active"].value("in_database") == 2  # this session and the sleeper


# ------------------------------------------------------------------ statements and errors


def test_slow_queries_need_both_mean_time_and_calls(conn: Conn) -> None:
    quiet_table(conn, "stays", 5000)
    for _ in range(120):
        conn.execute("SELECT count(*) FROM stays WHERE note LIKE '%9'")
    for _ in range(50):
        conn.execute("SELECT count(*) FROM stays WHERE b = 3")

    found = report(conn, "slow_queries", slow_query_mean_ms=0.0).findings

    assert [(f.value("calls"), f.value("query")) for f in found] == [
        (120, "SELECT count(*) FROM stays WHERE note LIKE $1")
    ]
    mean = found[0].value("mean_ms")
    assert isinstance(mean, float)
    assert mean > 0


def test_a_failing_check_is_an_error_finding_and_the_others_still_run(
    conn: Conn, pg_dsn: str
) -> None:
    role = f"viewer_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    conn.execute("REVOKE ALL ON pg_stat_statements FROM PUBLIC")
    try:
        viewer_dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://{role}@")
        with psycopg.connect(viewer_dsn, autocommit=True) as viewer:
            result = run_checks(viewer, NOW)
    finally:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    by_name = {r.check: r for r in result.results}
    assert [name for name, _ in CHECKS] == list(by_name)
    slow = by_name["slow_queries"]
    assert slow.error is not None
    assert "InsufficientPrivilege" in slow.error
    assert [f.severity for f in slow.findings] == [Severity.ERROR]
    assert [name for name, r in by_name.items() if r.error] == ["slow_queries"]
