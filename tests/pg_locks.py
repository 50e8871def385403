"""Finding and killing the PostgreSQL session that holds a scheduler run lock."""

from __future__ import annotations

import psycopg

from perfpilot.store.run_lock import advisory_key, advisory_lock_ids


def advisory_lock_pid(dsn: str, key: str) -> int | None:
    """The backend pid holding the advisory lock of ``key`` in this database, per pg_locks."""
    classid, objid = advisory_lock_ids(advisory_key(key))
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            (classid, objid),
        ).fetchone()
    return None if row is None else int(row[0])


def terminate_lock_holder(dsn: str, key: str) -> int:
    """pg_terminate_backend the session holding ``key`` once it has exited; returns its pid."""
    pid = advisory_lock_pid(dsn, key)
    assert pid is not None, f"nobody holds {key}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        # With a timeout (PostgreSQL 14+) the call returns only once the backend is gone.
        row = conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
    assert row is not None
    assert row[0] is True, f"backend {pid} did not exit"
    return pid
