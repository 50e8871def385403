"""Run-lock leases know whether they still hold their lock, on real PostgreSQL sessions."""

from __future__ import annotations

import pytest
from tests.pg_locks import advisory_lock_pid, terminate_lock_holder

from perfpilot.store.run_lock import LocalRunLock, PostgresRunLock, advisory_key


def test_advisory_lock_ids_match_pg_locks(pg_dsn: str) -> None:
    # Keys whose sha256 prefix is negative as a signed bigint cover the high-bit case.
    keys = [f"perfpilot:task:{n}" for n in range(8)]
    assert any(advisory_key(k) < 0 for k in keys)
    assert any(advisory_key(k) > 0 for k in keys)
    lock = PostgresRunLock(pg_dsn)
    for key in keys:
        lease = lock.try_acquire(key)
        assert lease is not None
        assert advisory_lock_pid(pg_dsn, key) is not None
        lease.release()
        assert advisory_lock_pid(pg_dsn, key) is None


def test_postgres_lease_is_not_held_after_its_backend_is_terminated(pg_dsn: str) -> None:
    key = "perfpilot:task:vacuum"
    lease = PostgresRunLock(pg_dsn).try_acquire(key)
    assert lease is not None
    assert lease.held() is True
    assert lease.held() is True
    assert lease.lost_reason is None
    terminate_lock_holder(pg_dsn, key)
    assert lease.held() is False
    assert (lease.lost_reason or "").startswith("connection closed")
    # The server freed the lock with the session: another replica takes it at once.
    other = PostgresRunLock(pg_dsn).try_acquire(key)
    assert other is not None
    assert other.held() is True
    lease.release()  # harmless on the dead session, and leaves the other holder alone
    assert other.held() is True
    other.release()
    assert other.held() is False


def test_released_leases_are_not_held(pg_dsn: str) -> None:
    local = LocalRunLock().try_acquire("perfpilot:task:a")
    remote = PostgresRunLock(pg_dsn).try_acquire("perfpilot:task:a")
    assert local is not None
    assert remote is not None
    assert local.held()
    assert remote.held()
    local.release()
    remote.release()
    assert not local.held()
    assert not remote.held()
    assert local.lost_reason == remote.lost_reason == "released"


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_slot_pool_hands_out_at_most_size_leases(pg_dsn: str, backend: str) -> None:
    # Two lock instances stand for two replicas; locally both are the one process's lock.
    local = LocalRunLock()
    first, second = (
        (local, local) if backend == "local" else (PostgresRunLock(pg_dsn), PostgresRunLock(pg_dsn))
    )
    pool = "perfpilot:scheduler:slot"
    a = first.try_acquire_slot(pool, 2)
    b = second.try_acquire_slot(pool, 2)
    assert a is not None
    assert b is not None
    assert second.try_acquire_slot(pool, 2) is None
    assert first.try_acquire_slot(pool, 2) is None
    # Another pool and the task locks are independent of this one.
    heavy = second.try_acquire_slot("perfpilot:scheduler:heavy-slot", 1)
    assert heavy is not None
    task = first.try_acquire("perfpilot:task:a")
    assert task is not None
    a.release()
    again = second.try_acquire_slot(pool, 2)
    assert again is not None
    assert again.held()
    assert first.try_acquire_slot(pool, 2) is None
    for lease in (b, heavy, task, again):
        lease.release()


def test_postgres_slots_are_advisory_locks_on_their_keys(pg_dsn: str) -> None:
    lock = PostgresRunLock(pg_dsn)
    lease = lock.try_acquire_slot("perfpilot:scheduler:slot", 3)
    assert lease is not None
    assert advisory_lock_pid(pg_dsn, "perfpilot:scheduler:slot:0") is not None
    second = lock.try_acquire_slot("perfpilot:scheduler:slot", 3)
    assert second is not None
    assert advisory_lock_pid(pg_dsn, "perfpilot:scheduler:slot:1") is not None
    assert advisory_lock_pid(pg_dsn, "perfpilot:scheduler:slot:2") is None
    # A lost slot is seen by its lease like a lost task lock.
    terminate_lock_holder(pg_dsn, "perfpilot:scheduler:slot:0")
    assert lease.held() is False
    assert (lease.lost_reason or "").startswith("connection closed")
    assert second.held() is True
    lease.release()
    second.release()
    assert advisory_lock_pid(pg_dsn, "perfpilot:scheduler:slot:1") is None
