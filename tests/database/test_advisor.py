"""Index advisor acceptance cases against the real PostgreSQL of the suite, with HypoPG.

One hotel database per module (the advisor changes nothing, so the tests can share it):
guests 50k rows, reservations 100k, invoices 60k with an existing composite index, rooms 200
(below the size floor), and a view over reservations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Protocol

import psycopg
import pytest
from psycopg import sql

from perfpilot.database.advisor import AdvisorPolicy, WorkloadQuery, advise
from perfpilot.database.candidates import CandidatePolicy
from perfpilot.database.recommendation import AdvisorReport, IndexRecommendation, QueryVerdict

SCHEMA = """
CREATE TABLE guests (
    id bigint PRIMARY KEY, email text NOT NULL, country text NOT NULL,
    created_at timestamptz NOT NULL);
INSERT INTO guests
SELECT g, 'guest' || g || '@example.com', (ARRAY['ES', 'FR', 'DE', 'US', 'IT'])[1 + g % 5],
       timestamptz '2024-01-01' + g * interval '1 minute'
FROM generate_series(1, 50000) AS g;

CREATE TABLE reservations (
    id bigint PRIMARY KEY, guest_id bigint NOT NULL, hotel_id int NOT NULL,
    room_no int NOT NULL, status text NOT NULL, check_in date NOT NULL,
    created_at timestamptz NOT NULL);
INSERT INTO reservations
SELECT g, 1 + (g * 7919) % 50000, g % 100, (g * 7) % 1000,
       (ARRAY['booked', 'cancelled', 'completed'])[1 + g % 3],
       date '2024-01-01' + (g * 13) % 730,
       timestamptz '2024-01-01' + g * interval '30 seconds'
FROM generate_series(1, 100000) AS g;

CREATE TABLE invoices (id bigint PRIMARY KEY, reservation_id bigint NOT NULL,
                       issued_at timestamptz NOT NULL, total numeric NOT NULL);
INSERT INTO invoices
SELECT g, g, timestamptz '2024-01-01' + g * interval '1 hour', g % 500
FROM generate_series(1, 60000) AS g;
CREATE INDEX invoices_reservation_issued ON invoices (reservation_id, issued_at);

CREATE TABLE rooms (id int PRIMARY KEY, hotel_id int NOT NULL, number int NOT NULL);
INSERT INTO rooms SELECT g, g % 10, g FROM generate_series(1, 200) AS g;

CREATE VIEW active_reservations AS
SELECT id, guest_id, room_no AS room, check_in FROM reservations WHERE status = 'booked';

ANALYZE;
"""


class Server(Protocol):
    def dsn(self, dbname: str = "postgres") -> str: ...


@pytest.fixture(scope="module")
def hotel_dsn(pg_server: Server, pg_template: str) -> Iterator[str]:
    name = f"advisor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(pg_template)
            )
        )
    try:
        with psycopg.connect(pg_server.dsn(name), autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield pg_server.dsn(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def conn(hotel_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(hotel_dsn, autocommit=True) as connection:
        yield connection


def workload(*texts: str, calls: int = 1000, mean_ms: float = 5.0) -> list[WorkloadQuery]:
    return [
        WorkloadQuery(f"fp{i}", text, calls, calls * mean_ms, mean_ms)
        for i, text in enumerate(texts)
    ]


def run(conn: psycopg.Connection[tuple[object, ...]], *texts: str) -> AdvisorReport:
    return advise(conn, workload(*texts), window_s=3600)


def keys_of(report: AdvisorReport) -> set[tuple[str, tuple[str, ...]]]:
    return {(r.table, r.keys) for r in report.recommendations}


def helping(report: AdvisorReport, fingerprint: str) -> list[IndexRecommendation]:
    return [r for r in report.recommendations if fingerprint in {q.fingerprint for q in r.queries}]


def verdict(report: AdvisorReport, fingerprint: str) -> QueryVerdict:
    return next(v for v in report.verdicts if v.fingerprint == fingerprint)


def test_equality_on_one_column(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT * FROM guests WHERE email = 'guest17@example.com'")
    (found,) = report.recommendations
    assert found.verified
    assert found.ddl == (
        "CREATE INDEX CONCURRENTLY perfpilot_guests_email_idx ON public.guests (email)"
    )
    assert found.cost_before is not None
    assert found.cost_after is not None
    assert found.cost_after < found.cost_before / 10
    assert found.size_bytes is not None
    assert found.size_bytes > 0
    (helped,) = found.queries
    assert helped.calls == 1000
    # 1000 calls in an hour is 24,000 a day, each 5 ms, scaled by the cost saved.
    ratio = 1 - found.cost_after / found.cost_before
    assert found.time_saved_ms_per_day == pytest.approx(24_000 * 5.0 * ratio)


def test_normalized_form_from_pg_stat_statements(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    for n in range(3):
        conn.execute(
            "SELECT id FROM guests WHERE country = 'ES' AND email = %s",
            (f"guest{n}@example.com",),
        )
    row = conn.execute(
        "SELECT query, calls, total_exec_time, mean_exec_time FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query LIKE 'SELECT id FROM guests WHERE country%'"
    ).fetchone()
    assert row is not None
    text = str(row[0])
    assert "$1" in text
    assert "$2" in text
    report = advise(conn, [WorkloadQuery("stmt", text, int(row[1]), row[2], row[3])])
    assert [r.keys for r in helping(report, "stmt")] == [("email",)]
    assert verdict(report, "stmt").plan == "generic plan"


def test_two_equalities_give_a_composite(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT * FROM reservations WHERE hotel_id = $1 AND room_no = $2")
    assert keys_of(report) == {("reservations", ("room_no", "hotel_id"))}


def test_equality_and_range(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "SELECT * FROM reservations WHERE hotel_id = $1 AND check_in >= $2 AND check_in < $3",
    )
    assert [r.keys for r in helping(report, "fp0")] == [("hotel_id", "check_in")]


def test_order_by_limit(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "SELECT * FROM guests ORDER BY created_at DESC LIMIT 20",
        "SELECT * FROM reservations WHERE hotel_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    assert [r.keys for r in helping(report, "fp0")] == [("created_at",)]
    assert [r.keys for r in helping(report, "fp1")] == [("hotel_id", "created_at")]


def test_join(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "SELECT r.id, r.check_in FROM reservations r JOIN guests g ON g.id = r.guest_id "
        "WHERE g.email = $1",
    )
    assert {(r.table, r.keys) for r in helping(report, "fp0")} == {
        ("guests", ("email",)),
        ("reservations", ("guest_id",)),
    }


def test_update_and_delete(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "UPDATE reservations SET status = $1 WHERE guest_id = $2",
        "DELETE FROM reservations WHERE guest_id = $1",
    )
    assert keys_of(report) == {("reservations", ("guest_id",))}
    assert {q.fingerprint for q in report.recommendations[0].queries} == {"fp0", "fp1"}
    # The what-if run left the table as it was.
    assert conn.execute("SELECT count(*) FROM reservations WHERE status = 'x'").fetchone() == (0,)


def test_cte(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "WITH mine AS (SELECT id, guest_id AS who FROM reservations) "
        "SELECT * FROM mine WHERE who = $1",
    )
    assert keys_of(report) == {("reservations", ("guest_id",))}


def test_view(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT * FROM active_reservations WHERE room = $1")
    assert {r.keys[0] for r in report.recommendations} == {"room_no"}
    assert verdict(report, "fp0").costed


def test_expression_index(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT id FROM guests WHERE lower(email) = lower($1)")
    (found,) = report.recommendations
    assert found.keys == ("(lower(email))",)
    assert found.ddl.endswith("ON public.guests ((lower(email)))")


def test_one_sided_range_uses_representative_constants(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    report = run(conn, "SELECT * FROM reservations WHERE created_at > $1")
    assert keys_of(report) == {("reservations", ("created_at",))}
    plan = verdict(report, "fp0").plan
    assert plan is not None
    assert plan.startswith("representative constants from pg_stats ($1 = ")


def test_already_indexed_gives_nothing(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(
        conn,
        "SELECT * FROM guests WHERE id = $1",
        "SELECT * FROM invoices WHERE reservation_id = $1",
    )
    assert report.recommendations == ()
    for fingerprint in ("fp0", "fp1"):
        found = verdict(report, fingerprint)
        assert found.costed
        assert found.reason.startswith("already indexed")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SELECT 1", "reads no table"),
        ("SELECT relname FROM pg_class WHERE oid = $1", "catalog-only"),
        ("SELEC * FROM guests", "unparsable"),
        ("VACUUM guests", "utility statement"),
        (
            "SELECT * FROM guests WHERE no_such_column = $1",
            'column "no_such_column" does not exist',
        ),
        ("SELECT * FROM no_such_table WHERE id = $1", "not found in the allow-listed schemas"),
    ],
)
def test_unusable_queries_get_a_reason(
    conn: psycopg.Connection[tuple[object, ...]], text: str, reason: str
) -> None:
    report = run(conn, text, "SELECT * FROM guests WHERE email = $1")
    found = verdict(report, "fp0")
    assert not found.costed
    assert reason in found.reason
    # The rest of the workload is still advised.
    assert keys_of(report) == {("guests", ("email",))}


def test_small_table_below_the_floor(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT * FROM rooms WHERE number = $1")
    assert report.recommendations == ()
    assert "below the size floor" in verdict(report, "fp0").reason
    lowered = AdvisorPolicy(candidates=CandidatePolicy(min_rows=100, min_bytes=0))
    report = advise(conn, workload("SELECT * FROM rooms WHERE number = $1"), lowered)
    # With the floor lowered the table is costed, and the planner confirms an index on 200
    # rows (two pages) buys nothing.
    assert verdict(report, "fp0").reason == (
        "no candidate index lowered its planner cost enough to be selected"
    )


def test_session_is_left_clean(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = run(conn, "SELECT * FROM guests WHERE email = $1", "SELECT * FROM rooms WHERE id = $1")
    assert report.whatif_costings > 0
    assert report.fingerprints == report.fingerprints_costed == 2
    assert conn.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
    assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("off",)
    indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'perfpilot%'")
    assert indexes.fetchone() == (0,)


def test_without_hypopg_the_advice_is_labelled_unverified(
    pg_server: Server, conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    name = f"nohypo_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(pg_server.dsn(name), autocommit=True) as plain:
            plain.execute(
                "CREATE TABLE guests AS SELECT g AS id, 'g' || g AS email "
                "FROM generate_series(1, 20000) AS g; ANALYZE guests"
            )
            report = advise(plain, workload("SELECT * FROM guests WHERE email = $1"))
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    assert not report.verified
    assert report.unverified_reason is not None
    assert "CREATE EXTENSION hypopg" in report.unverified_reason
    assert report.whatif_costings == 0
    (found,) = report.recommendations
    assert not found.verified
    assert found.note.startswith("UNVERIFIED")
    assert found.keys == ("email",)
    assert found.cost_after is None
    assert found.size_bytes is None
    assert not verdict(report, "fp0").costed


def test_or_across_two_columns_gets_an_index_for_each(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    report = run(conn, "SELECT * FROM guests WHERE email = $1 OR created_at = $2")
    # Either index alone leaves the other branch to a sequential scan; together they give a
    # BitmapOr, and each recommendation names its partner.
    assert keys_of(report) == {("guests", ("email",)), ("guests", ("created_at",))}
    notes = {r.keys[0]: r.note for r in report.recommendations}
    assert "together with public.guests (created_at)" in notes["email"]
    assert "together with public.guests (email)" in notes["created_at"]
    assert all(r.verified and r.queries[0].fingerprint == "fp0" for r in report.recommendations)


def test_or_with_an_unindexable_branch_gets_nothing(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    report = run(conn, "SELECT * FROM guests WHERE email = $1 OR country <> $2")
    assert report.recommendations == ()
