"""The session servers are private, and have what the database and cache tests rely on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import redis

if TYPE_CHECKING:
    from tests.conftest import PgServer, RedisServer

SYSTEM_PG_PORT = 5432
SYSTEM_REDIS_PORT = 6379


def test_postgres_is_private(pg_server: PgServer, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()
        port = conn.execute("SHOW port").fetchone()
    assert pg_server.port != SYSTEM_PG_PORT
    assert port == (str(pg_server.port),)
    assert data_dir is not None
    assert Path(data_dir[0]) == pg_server.data_dir


def test_pg_stat_statements_preloaded_and_recording(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        track = conn.execute("SHOW pg_stat_statements.track").fetchone()
        conn.execute("SELECT 42 AS perfpilot_probe")
        row = conn.execute(
            """
            SELECT calls FROM pg_stat_statements
            WHERE query LIKE %s
              AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            ("%perfpilot_probe%",),
        ).fetchone()
    assert preload is not None
    assert "pg_stat_statements" in preload[0]
    assert track == ("all",)
    assert row is not None
    assert row[0] >= 1


def test_hypopg_index_is_used_by_explain(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bookings (id bigint, guest_id integer, note text)")
        conn.execute(
            "INSERT INTO bookings SELECT g, g % 5000, 'x' FROM generate_series(1, 50000) AS g"
        )
        conn.execute("ANALYZE bookings")
        created = conn.execute(
            "SELECT indexrelid, indexname FROM hypopg_create_index(%s)",
            ("CREATE INDEX ON bookings (guest_id)",),
        ).fetchall()
        plan = conn.execute("EXPLAIN SELECT * FROM bookings WHERE guest_id = 7").fetchall()
    assert len(created) == 1
    index_name = created[0][1]
    plan_text = "\n".join(line[0] for line in plan)
    assert index_name in plan_text, plan_text


def test_each_test_gets_a_fresh_database(pg_dsn: str) -> None:
    # Leaves a table behind; the next test proves it is not visible there.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE leftover (id integer)")
    assert tables == (0,)


def test_database_from_previous_test_is_gone(pg_server: PgServer, pg_dsn: str) -> None:
    with psycopg.connect(pg_server.dsn()) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'test_%'"
        ).fetchall()
    assert rows == [(pg_dsn.rsplit("/", 1)[1],)]


def test_redis_is_private(redis_server: RedisServer, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
        info = client.info("server")
        directory = client.config_get("dir")
    finally:
        client.close()
    assert redis_server.port != SYSTEM_REDIS_PORT
    assert info["tcp_port"] == redis_server.port
    assert Path(str(directory["dir"])).resolve() == redis_server.dir.resolve()


def test_redis_leaves_a_key(redis_url: str) -> None:
    # The next test proves the key is flushed before it starts.
    client = redis.Redis.from_url(redis_url)
    try:
        client.set("perfpilot:leftover", "1")
        client.get("perfpilot:missing")
    finally:
        client.close()


def test_redis_is_flushed_with_fresh_stats(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        size = client.dbsize()
        stats = client.info("stats")
    finally:
        client.close()
    assert size == 0
    assert stats["keyspace_misses"] == 0
