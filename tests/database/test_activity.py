"""Active sessions of the target database, read for the scheduler's busy check."""

from __future__ import annotations

import threading

import psycopg

from perfpilot.database.activity import DatabaseActivity


def test_counts_other_active_client_sessions(pg_dsn: str) -> None:
    activity = DatabaseActivity(pg_dsn)
    assert activity.read() == 0
    started = threading.Event()

    def sleeper() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            started.set()
            conn.execute("SELECT pg_sleep(1.5)")

    threads = [threading.Thread(target=sleeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait(5)
    seen = 0
    for _ in range(50):  # the sleeps start within milliseconds of the connections
        seen = activity.read()
        if seen == 2:
            break
    for thread in threads:
        thread.join(10)
    assert seen == 2
