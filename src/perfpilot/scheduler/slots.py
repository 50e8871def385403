"""A run's leases: its task lock plus one slot of each cluster-wide limit, held as one.

A slot counts against a limit only while its lock is held. If a slot's session drops, another
replica can take the slot and the limit is exceeded while this run goes on; so a lost slot ends
the run exactly like a lost task lock (the watchdog checks the group as one lease). A retry
then needs the task lock and a free slot again.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfpilot.scheduler.policy import SlotPool
from perfpilot.scheduler.ports import Lease, RunLock

# How long a retry waits before it tries for a slot again: a run ending on another replica
# does not wake this one. Queued runs are looked at as often (the engine's recheck interval).
SLOT_RECHECK_S = 30.0


class LeaseGroup:
    """Several leases released together; no longer held as soon as any one of them is lost."""

    def __init__(self, task_lease: Lease, slots: Sequence[tuple[SlotPool, Lease]]) -> None:
        self._task_lease = task_lease
        self._slots = list(slots)
        self.lost_reason: str | None = None

    def held(self) -> bool:
        if self.lost_reason is not None:
            return False
        if not self._task_lease.held():
            self.lost_reason = self._task_lease.lost_reason or "not held"
            return False
        for pool, lease in self._slots:
            if not lease.held():
                self.lost_reason = f"slot of {pool.name}: {lease.lost_reason or 'not held'}"
                return False
        return True

    def release(self) -> None:
        if self.lost_reason is None:
            self.lost_reason = "released"
        try:
            release_all(self._slots)
        finally:
            self._task_lease.release()


def take_slots(lock: RunLock, pools: Sequence[SlotPool]) -> list[tuple[SlotPool, Lease]] | SlotPool:
    """A slot of every pool, or the first full pool (the slots taken before it are given back).

    Blocking: the engine calls it through ``asyncio.to_thread``.
    """
    taken: list[tuple[SlotPool, Lease]] = []
    try:
        for pool in pools:
            lease = lock.try_acquire_slot(pool.name, pool.size)
            if lease is None:
                release_all(taken)
                return pool
            taken.append((pool, lease))
    except BaseException:
        release_all(taken)
        raise
    return taken


def release_all(slots: Sequence[tuple[SlotPool, Lease]]) -> None:
    """Give back every slot lease; releasing one twice is harmless."""
    for _, lease in slots:
        lease.release()
