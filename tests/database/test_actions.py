"""Tuner changes against the real PostgreSQL: concurrent builds, guarded drops, VACUUM, reloads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from perfpilot.core.audit import Outcome
from perfpilot.database.actions import (
    IndexBuild,
    TunerBusy,
    alter_system,
    create_index,
    drop_index,
    index_valid,
    tuner_session,
    vacuum_analyze,
)

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def db(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE reservations (id serial PRIMARY KEY, guest_id int, email text,"
            " check_in date)"
        )
        conn.execute(
            "INSERT INTO reservations (guest_id, email, check_in)"
            " SELECT g % 500, 'guest' || g || '@hotel.test', date '2026-01-01' + g % 365"
            " FROM generate_series(1, 20000) g"
        )
        yield conn


def build(name: str, *keys: str, table: str = "reservations") -> IndexBuild:
    return IndexBuild("public", table, name, keys, comment="perfpilot: test reason")


def test_concurrent_build_creates_a_valid_commented_index(pg_dsn: str, db: Conn) -> None:
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        result = create_index(conn, build("perfpilot_reservations_guest_id_idx", '"guest_id"'))
    assert result.outcome is Outcome.APPLIED, result.detail
    assert result.statement.startswith("CREATE INDEX CONCURRENTLY")
    assert index_valid(db, "public", "perfpilot_reservations_guest_id_idx") is True
    comment = db.execute(
        "SELECT obj_description('perfpilot_reservations_guest_id_idx'::regclass, 'pg_class')"
    ).fetchone()
    assert comment == ("perfpilot: test reason",)


def test_expression_keys_are_built(pg_dsn: str, db: Conn) -> None:
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        result = create_index(
            conn, build("perfpilot_reservations_lower_email_idx", 'lower("email")')
        )
    assert result.outcome is Outcome.APPLIED, result.detail
    definition = db.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'perfpilot_reservations_lower_email_idx'"
    ).fetchone()
    assert definition is not None
    assert "lower(email)" in str(definition[0])


def test_failed_build_leaves_no_invalid_index(pg_dsn: str, db: Conn) -> None:
    # A unique build over duplicated guest ids fails after the catalog entry exists; the
    # invalid leftover must be dropped.
    unique = IndexBuild(
        "public", "reservations", "perfpilot_reservations_dup_idx", ('"guest_id"',), "test"
    )
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        statement = psycopg.sql.SQL(
            "CREATE UNIQUE INDEX CONCURRENTLY perfpilot_reservations_dup_idx"
            " ON reservations (guest_id)"
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(statement)
        assert index_valid(conn, "public", unique.name) is False
        # The same clean-up path create_index takes after a failure:
        result = create_index(conn, unique)
    assert result.outcome is Outcome.FAILED
    assert "invalid" in result.detail
    assert index_valid(db, "public", unique.name) is None


def test_build_blocked_by_a_lock_times_out_and_leaves_nothing(pg_dsn: str, db: Conn) -> None:
    holder = psycopg.connect(pg_dsn)
    holder.execute("LOCK TABLE reservations IN ACCESS EXCLUSIVE MODE")
    try:
        with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=200) as conn:
            result = create_index(conn, build("perfpilot_reservations_check_in_idx", '"check_in"'))
    finally:
        holder.rollback()
        holder.close()
    assert result.outcome is Outcome.FAILED
    assert "lock timeout" in result.detail.lower()
    assert index_valid(db, "public", "perfpilot_reservations_check_in_idx") is None


def test_foreign_index_is_never_dropped(db: Conn) -> None:
    db.execute("CREATE INDEX reservations_email_idx ON reservations (email)")
    with pytest.raises(ValueError, match="not created by perfpilot"):
        drop_index(db, "public", "reservations_email_idx")
    assert index_valid(db, "public", "reservations_email_idx") is True
    with pytest.raises(ValueError, match="must start with"):
        create_index(db, build("reservations_guest_idx", '"guest_id"'))


def test_own_index_is_dropped(pg_dsn: str, db: Conn) -> None:
    db.execute("CREATE INDEX perfpilot_reservations_email_idx ON reservations (email)")
    result = drop_index(db, "public", "perfpilot_reservations_email_idx")
    assert result.outcome is Outcome.APPLIED
    assert index_valid(db, "public", "perfpilot_reservations_email_idx") is None


def test_one_tuner_change_at_a_time(pg_dsn: str, db: Conn) -> None:
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with tuner_session(pg_dsn, statement_timeout_ms=10_000, lock_timeout_ms=1_000):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert inside.wait(10)
        with (
            pytest.raises(TunerBusy),
            tuner_session(pg_dsn, statement_timeout_ms=10_000, lock_timeout_ms=1_000),
        ):
            pass
    finally:
        release.set()
        thread.join(10)


def test_vacuum_analyze_sets_last_vacuum(pg_dsn: str, db: Conn) -> None:
    db.execute("DELETE FROM reservations WHERE id % 2 = 0")
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        result = vacuum_analyze(conn, "public", "reservations")
    assert result.outcome is Outcome.APPLIED, result.detail
    assert result.statement == 'VACUUM (ANALYZE, SKIP_LOCKED) "public"."reservations"'
    row = db.execute(
        "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables"
        " WHERE relname = 'reservations'"
    ).fetchone()
    assert row == (True, True)


def test_alter_system_reloads_but_never_restarts(pg_dsn: str, db: Conn) -> None:
    try:
        applied = alter_system(db, "log_min_duration_statement", "250ms")
        assert applied.outcome is Outcome.APPLIED, applied.detail
        db.execute("SELECT pg_sleep(0.2)")  # the postmaster signals backends asynchronously
        with psycopg.connect(pg_dsn) as fresh:
            shown = fresh.execute("SHOW log_min_duration_statement").fetchone()
        assert shown == ("250ms",)
        skipped = alter_system(db, "shared_buffers", "256MB")
        assert skipped.outcome is Outcome.SKIPPED
        assert "restart" in skipped.detail
        unknown = alter_system(db, "no_such_setting", "1")
        assert unknown.outcome is Outcome.FAILED
    finally:
        db.execute("ALTER SYSTEM RESET log_min_duration_statement")
        db.execute("SELECT pg_reload_conf()")


def test_build_on_a_table_dropped_after_the_advice_fails_cleanly(pg_dsn: str, db: Conn) -> None:
    db.execute("CREATE TABLE rooms (id int)")
    db.execute("DROP TABLE rooms")
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        result = create_index(conn, build("perfpilot_rooms_id_idx", '"id"', table="rooms"))
    assert result.outcome is Outcome.FAILED
    assert "does not exist" in result.detail
    assert index_valid(db, "public", "perfpilot_rooms_id_idx") is None


def test_build_past_its_statement_timeout_leaves_nothing(pg_dsn: str, db: Conn) -> None:
    db.execute(
        "INSERT INTO reservations (guest_id, email, check_in)"
        " SELECT g, md5(g::text), date '2026-01-01' FROM generate_series(1, 200000) g"
    )
    with tuner_session(pg_dsn, statement_timeout_ms=50, lock_timeout_ms=2_000) as conn:
        result = create_index(conn, build("perfpilot_reservations_email_idx", '"email"'))
    assert result.outcome is Outcome.FAILED
    assert "statement timeout" in result.detail.lower()
    assert index_valid(db, "public", "perfpilot_reservations_email_idx") is None


def test_read_only_database_refuses_the_build_with_a_clear_reason(pg_dsn: str, db: Conn) -> None:
    dbname = db.info.dbname
    db.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    with tuner_session(pg_dsn, statement_timeout_ms=60_000, lock_timeout_ms=2_000) as conn:
        result = create_index(conn, build("perfpilot_reservations_guest_id_idx", '"guest_id"'))
    assert result.outcome is Outcome.FAILED
    assert "read-only" in result.detail
    assert index_valid(db, "public", "perfpilot_reservations_guest_id_idx") is None
