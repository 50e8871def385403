"""Every Store behaviour, checked against both backends: a SQLite file and a real PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfpilot.core.errors import ConfigError
from perfpilot.monitor.model import Alert, AlertKind, AlertStatus, Rollup, Severity
from perfpilot.store import Store, StoreError, open_store
from perfpilot.store.migrations import MIGRATIONS, latest_version
from perfpilot.store.postgres import PostgresStore

T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/perfpilot.db"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store, closed after the test."""
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


def rollup(series: str, minute: datetime, avg: float = 50.0) -> Rollup:
    return Rollup(series=series, minute=minute, avg=avg, min=avg - 10, max=avg + 10, count=12)


def alert(alert_id: str, started_at: datetime, **changes: Any) -> Alert:
    base = Alert(
        id=alert_id,
        fingerprint=f"fp-{alert_id}",
        kind=AlertKind.THRESHOLD,
        resource="cpu",
        severity=Severity.WARNING,
        status=AlertStatus.FIRING,
        message=f"cpu above 80% ({alert_id})",
        value=83.5,
        threshold=80.0,
        started_at=started_at,
        last_seen_at=started_at + timedelta(minutes=1),
    )
    return replace(base, **changes)


# ------------------------------------------------------------------ schema


def test_migrate_is_idempotent_and_reports_version(store_url: str) -> None:
    opened = open_store(store_url)
    try:
        assert opened.schema_version() == 0
        assert opened.migrate() == [m.version for m in MIGRATIONS]
        assert opened.migrate() == []
        assert opened.schema_version() == latest_version() == MIGRATIONS[-1].version
    finally:
        opened.close()


def test_concurrent_migrators_apply_each_version_once(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(4)]
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(target: Store) -> None:
        barrier.wait()
        try:
            results.append(target.migrate())
        except StoreError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert errors == []
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in MIGRATIONS]


def test_migrations_are_ordered_and_complete() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    for migration in MIGRATIONS:
        assert migration.sqlite
        assert migration.postgres
        assert migration.description


def test_data_survives_reopening(store_url: str, store: Store) -> None:
    store.save_rollups([rollup("cpu", T0)])
    store.save_alert(alert("a1", T0))
    store.close()

    reopened = open_store(store_url)
    try:
        assert reopened.migrate() == []
        assert reopened.load_rollups(T0, T0 + timedelta(minutes=1)) == [rollup("cpu", T0)]
        assert reopened.get_alert("a1") == alert("a1", T0)
    finally:
        reopened.close()


def test_ping_and_describe(store: Store) -> None:
    store.ping()
    description = store.describe()
    assert description.split()[0] in {"sqlite", "postgresql"}


def test_closed_store_raises_store_error(store_url: str) -> None:
    opened = open_store(store_url)
    opened.close()
    opened.close()
    with pytest.raises(StoreError):
        opened.ping()


# ------------------------------------------------------------------ rollups


def test_rollups_round_trip_as_aware_utc(store: Store) -> None:
    local = datetime(2024, 3, 10, 14, 0, tzinfo=CEST)  # 12:00 UTC
    store.save_rollups([Rollup("cpu", local, avg=41.25, min=3.5, max=99.75, count=12)])

    [loaded] = store.load_rollups(T0, T0 + timedelta(minutes=1))

    assert loaded == Rollup("cpu", T0, avg=41.25, min=3.5, max=99.75, count=12)
    assert loaded.minute.utcoffset() == timedelta(0)


def test_rollups_upsert_by_series_and_minute(store: Store) -> None:
    store.save_rollups([rollup("cpu", T0, avg=10.0), rollup("memory", T0, avg=20.0)])
    store.save_rollups([rollup("cpu", T0, avg=30.0)])

    loaded = store.load_rollups(T0, T0 + timedelta(minutes=1))

    assert loaded == [rollup("cpu", T0, avg=30.0), rollup("memory", T0, avg=20.0)]


def test_load_rollups_orders_by_minute_and_bounds_half_open(store: Store) -> None:
    minutes = [T0 + timedelta(minutes=i) for i in (3, 0, 2, 1, 4)]
    store.save_rollups([rollup("cpu", m) for m in minutes] + [rollup("disk:/", T0)])

    loaded = store.load_rollups(T0 + timedelta(minutes=1), T0 + timedelta(minutes=4))

    assert [r.minute for r in loaded] == [T0 + timedelta(minutes=i) for i in (1, 2, 3)]


def test_load_rollups_filters_series(store: Store) -> None:
    store.save_rollups(
        [
            rollup(name, T0 + timedelta(minutes=i))
            for name in ("cpu", "memory", "swap")
            for i in (0, 1)
        ]
    )
    until = T0 + timedelta(hours=1)

    picked = store.load_rollups(T0, until, series=["swap", "cpu"])
    everything = store.load_rollups(T0, until)

    assert [(r.minute, r.series) for r in picked] == [
        (T0, "cpu"),
        (T0, "swap"),
        (T0 + timedelta(minutes=1), "cpu"),
        (T0 + timedelta(minutes=1), "swap"),
    ]
    assert len(everything) == 6
    assert store.load_rollups(T0, until, series=[]) == []


def test_save_many_rollups_in_one_batch(store: Store) -> None:
    batch = [rollup(f"disk:/m{i % 7}", T0 + timedelta(minutes=i)) for i in range(1000)]
    store.save_rollups(batch)
    store.save_rollups([])

    assert len(store.load_rollups(T0, T0 + timedelta(days=1))) == 1000


def test_prune_rollups_returns_count_deleted(store: Store) -> None:
    store.save_rollups([rollup(s, T0 + timedelta(minutes=i)) for s in ("a", "b") for i in range(5)])

    deleted = store.prune_rollups(T0 + timedelta(minutes=3))

    assert deleted == 6
    remaining = store.load_rollups(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert {r.minute for r in remaining} == {T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)}
    assert store.prune_rollups(T0 + timedelta(minutes=3)) == 0


def test_naive_datetime_is_rejected(store: Store) -> None:
    naive = datetime(2024, 3, 10, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        store.save_rollups([rollup("cpu", naive)])
    with pytest.raises(ValueError, match="naive"):
        store.load_rollups(naive, T0)


def test_concurrent_writers_from_threads(store: Store) -> None:
    def write(worker: int) -> None:
        for i in range(25):
            store.save_rollups([rollup(f"w{worker}", T0 + timedelta(minutes=i))])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.load_rollups(T0, T0 + timedelta(hours=1))) == 100


# ------------------------------------------------------------------ alerts


def test_alert_round_trip_with_none_fields(store: Store) -> None:
    sparse = alert(
        "a-none", T0.astimezone(CEST), kind=AlertKind.PREDICTED, value=None, threshold=None
    )
    store.save_alert(sparse)

    loaded = store.get_alert("a-none")

    assert loaded == alert("a-none", T0, kind=AlertKind.PREDICTED, value=None, threshold=None)
    assert loaded is not None
    assert loaded.started_at.utcoffset() == timedelta(0)
    assert loaded.resolved_at is None
    assert loaded.resolved_by is None
    assert loaded.comment is None


def test_alert_upsert_by_id(store: Store) -> None:
    store.save_alert(alert("a1", T0))
    resolved = alert(
        "a1",
        T0,
        status=AlertStatus.RESOLVED,
        last_seen_at=T0 + timedelta(minutes=9),
        resolved_at=T0 + timedelta(minutes=10),
        resolved_by="ops@hotel.example",
        comment="noisy neighbour moved",
        value=71.0,
    )
    store.save_alert(resolved)

    assert store.get_alert("a1") == resolved
    assert store.list_alerts() == [resolved]


def test_get_missing_alert_is_none(store: Store) -> None:
    assert store.get_alert("nope") is None


def test_list_alerts_newest_first_with_filters_and_limit(store: Store) -> None:
    alerts = [
        alert("old-crit", T0, severity=Severity.CRITICAL),
        alert("mid-warn", T0 + timedelta(hours=1), status=AlertStatus.RESOLVED),
        alert("new-crit", T0 + timedelta(hours=2), severity=Severity.CRITICAL),
        alert("newest-info", T0 + timedelta(hours=3), severity=Severity.INFO),
    ]
    for item in alerts:
        store.save_alert(item)

    def ids(found: list[Alert]) -> list[str]:
        return [a.id for a in found]

    assert ids(store.list_alerts()) == ["newest-info", "new-crit", "mid-warn", "old-crit"]
    assert ids(store.list_alerts(limit=2)) == ["newest-info", "new-crit"]
    assert ids(store.list_alerts(limit=0)) == []
    assert ids(store.list_alerts(status=AlertStatus.RESOLVED)) == ["mid-warn"]
    assert ids(store.list_alerts(severity=Severity.CRITICAL)) == ["new-crit", "old-crit"]
    assert ids(
        store.list_alerts(status=AlertStatus.FIRING, severity=Severity.CRITICAL, limit=1)
    ) == ["new-crit"]
    with pytest.raises(ValueError, match="limit"):
        store.list_alerts(limit=-1)


# ------------------------------------------------------------------ factory


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2@db/perf", "sqlite://relative.db", "sqlite:///", "redis://x", ""],
)
def test_bad_url_names_the_variable_and_value(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_store(url)
    message = str(raised.value)
    assert "PERFORMANCE_STORE_URL" in message
    assert "hunter2" not in message
    assert url.replace(":hunter2@", ":***@") in message


def test_sqlite_memory_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = open_store("sqlite:///:memory:")
    try:
        memory.migrate()
        memory.save_rollups([rollup("cpu", T0)])
        assert len(memory.load_rollups(T0, T0 + timedelta(minutes=1))) == 1
        assert memory.describe() == "sqlite :memory:"
    finally:
        memory.close()

    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///state/perfpilot.db")
    try:
        relative.migrate()
    finally:
        relative.close()
    assert (tmp_path / "state" / "perfpilot.db").is_file()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path}/wal.db")
    opened.migrate()
    opened.close()
    assert (tmp_path / "wal.db").read_bytes()[18:20] == b"\x02\x02"  # WAL read/write versions


def test_postgres_describe_hides_password_and_uses_schema(pg_dsn: str) -> None:
    with_password = pg_dsn.replace("postgres@", "postgres:s3cret@", 1)
    opened = open_store(with_password)
    try:
        opened.migrate()
        assert "s3cret" not in opened.describe()
        assert opened.describe().startswith("postgresql postgres@127.0.0.1:")
    finally:
        opened.close()
    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'perfpilot' ORDER BY tablename"
        ).fetchall()
    # Every table lives in the perfpilot schema, none in public.
    assert {("alerts",), ("resource_rollups",), ("schema_migrations",)} <= set(tables)
    with psycopg.connect(pg_dsn) as conn:
        public = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert public.fetchone() == (0,)


def test_postgres_store_sets_application_name(pg_dsn: str) -> None:
    opened = open_store(pg_dsn)
    try:
        opened.ping()
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'perfpilot' AND datname = current_database()"
            ).fetchone()
    finally:
        opened.close()
    assert row is not None
    assert row[0] >= 1


def test_postgres_down_raises_store_error_naming_the_action() -> None:
    # A bound but not listening socket refuses connections and keeps the port ours meanwhile.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        opened = PostgresStore(f"postgresql://postgres:s3cret@127.0.0.1:{port}/none", timeout_s=0.5)
        try:
            with pytest.raises(StoreError, match="ping failed") as raised:
                opened.ping()
        finally:
            opened.close()
    assert f"127.0.0.1:{port}/none" in str(raised.value)
    assert "s3cret" not in str(raised.value)
