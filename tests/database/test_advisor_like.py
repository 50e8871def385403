"""``LIKE 'prefix%'`` advice against the real PostgreSQL of the suite, with HypoPG.

The test cluster is initialised with ``--no-locale``, so its default collation is C, under
which a plain btree already serves a prefix LIKE. ``last_name`` is therefore declared
``COLLATE "und-x-icu"`` (ICU's root locale, present in every ICU-enabled build): the case of
a production database with a linguistic collation, where only ``text_pattern_ops`` helps.
``email`` keeps the C default.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from perfpilot.database.advisor import WorkloadQuery, advise
from perfpilot.database.recommendation import AdvisorReport, QueryVerdict

# 100k guests; 480 surnames built from real stems and endings (Lindberg, Marcelli, ...).
SCHEMA = """
CREATE TABLE guests (
    id bigint PRIMARY KEY, first_name text NOT NULL,
    last_name text COLLATE "und-x-icu" NOT NULL, email text NOT NULL);
INSERT INTO guests
SELECT g, f[1 + (g * 7) % array_length(f, 1)],
       s[1 + (g * 7919) % array_length(s, 1)]
           || e[1 + (g::bigint * 104729 / 7) % array_length(e, 1)],
       'guest' || g || '@example.com'
FROM generate_series(1, 100000) AS g,
     (SELECT ARRAY['Ana', 'Bruno', 'Carla', 'David', 'Elena', 'Farid', 'Greta', 'Hugo',
                   'Irene', 'Jonas', 'Kenji', 'Lucia', 'Marek', 'Nadia', 'Omar', 'Paula'] AS f,
             ARRAY['Abr', 'Bach', 'Bern', 'Carv', 'Dahl', 'Delg', 'Eck', 'Ferr', 'Fisch',
                   'Gall', 'Gonz', 'Hart', 'Hern', 'Iv', 'Jans', 'Kowal', 'Kr', 'Lamb', 'Lind',
                   'Marc', 'Mart', 'Mor', 'Nov', 'Ober', 'Ols', 'Pet', 'Quint', 'Ram', 'Ross',
                   'Sanch', 'Schm', 'Sorr', 'Tan', 'Torr', 'Ull', 'Vasq', 'Wagn', 'Wein',
                   'Yam', 'Zimm'] AS s,
             ARRAY['a', 'er', 'es', 'ez', 'son', 'sen', 'ini', 'ova', 'mann', 'berg', 'ski',
                   'elli'] AS e) AS names;
ANALYZE guests;
"""
LOOKUP = "SELECT id, first_name, last_name FROM guests WHERE last_name LIKE %s"
PATTERN_OPS = "last_name text_pattern_ops"


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(SCHEMA)
        yield connection


def recorded_workload(conn: psycopg.Connection[tuple[object, ...]]) -> list[WorkloadQuery]:
    """Run the prefix lookups and read them back normalized from pg_stat_statements."""
    for prefix in ("Lin%", "Mar%", "Sch%", "Gon%"):
        conn.execute(LOOKUP, (prefix,))
    rows = conn.execute(
        "SELECT queryid::text, query, calls, total_exec_time, mean_exec_time "
        "FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query LIKE 'SELECT id, first_name, last_name FROM guests%'"
    ).fetchall()
    return [
        WorkloadQuery(str(r[0]), str(r[1]), int(str(r[2])), float(str(r[3])), float(str(r[4])))
        for r in rows
    ]


def constant(*texts: str) -> list[WorkloadQuery]:
    return [WorkloadQuery(f"fp{i}", t, 1000, 5000.0, 5.0) for i, t in enumerate(texts)]


def verdict(report: AdvisorReport, fingerprint: str) -> QueryVerdict:
    return next(v for v in report.verdicts if v.fingerprint == fingerprint)


def test_like_parameter_gets_a_verified_pattern_ops_index_the_planner_uses(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    workload = recorded_workload(conn)
    (query,) = workload
    assert "last_name LIKE $1" in query.text
    report = advise(conn, workload, window_s=3600)
    (found,) = report.recommendations
    assert found.verified
    assert found.keys == (PATTERN_OPS,)
    assert found.ddl == (
        "CREATE INDEX CONCURRENTLY perfpilot_guests_last_name_text_pattern_ops_idx "
        f"ON public.guests ({PATTERN_OPS})"
    )
    assert found.cost_before is not None
    assert found.cost_after is not None
    assert found.cost_after < found.cost_before * 0.9
    plan = verdict(report, query.fingerprint).plan
    assert plan is not None
    assert plan.startswith("representative constants from pg_stats ($1 = '")
    conn.execute(found.ddl)
    explained = conn.execute("EXPLAIN " + LOOKUP.replace("%s", "'Lin%'")).fetchall()
    assert found.name in "\n".join(str(row[0]) for row in explained)


def test_unanchored_like_gets_nothing(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = advise(conn, constant("SELECT id FROM guests WHERE last_name LIKE '%son'"))
    assert report.recommendations == ()
    assert verdict(report, "fp0").reason.startswith("no index candidate")


def test_existing_pattern_ops_index_means_no_advice(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    conn.execute(f"CREATE INDEX guests_last_name_pattern ON guests ({PATTERN_OPS})")
    report = advise(conn, recorded_workload(conn))
    assert report.recommendations == ()
    assert all(v.reason.startswith("already indexed") for v in report.verdicts)


def test_default_class_index_does_not_cover_like_under_a_linguistic_collation(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    conn.execute("CREATE INDEX guests_last_name ON guests (last_name)")
    report = advise(conn, constant("SELECT id FROM guests WHERE last_name LIKE 'Lin%'"))
    assert [r.keys for r in report.recommendations] == [(PATTERN_OPS,)]


def test_c_collation_column_gets_a_plain_btree(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    report = advise(conn, constant("SELECT id FROM guests WHERE email LIKE 'guest4217%'"))
    assert [r.keys for r in report.recommendations] == [("email",)]


def test_like_or_equality_gets_both_indexes(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    report = advise(conn, constant("SELECT id FROM guests WHERE last_name LIKE $1 OR email = $2"))
    assert {r.keys for r in report.recommendations} == {(PATTERN_OPS,), ("email",)}
