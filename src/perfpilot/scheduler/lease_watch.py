"""The run-lock watchdog: which runs in flight no longer hold their lease.

A PostgreSQL advisory lock lives as long as the session that took it. When that connection
drops (server restart, network cut, terminated backend) the server frees the lock, another
replica can start the same task, and this one would keep running it unaware. Checking every
lease at a fixed interval bounds that overlap to about one interval plus the check's timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from perfpilot.scheduler.entry import Entry, describe_error
from perfpilot.scheduler.ports import Lease

logger = logging.getLogger(__name__)


async def lost_reason(lease: Lease) -> str | None:
    """None while ``lease`` is held, else why it is not; never raises an ``Exception``."""
    try:
        if await asyncio.to_thread(lease.held):
            return None
    except Exception as exc:
        # A check that fails cannot prove the lock is still ours, so it counts as lost:
        # cancelling a maintenance run costs one retry or waiting for the next fire time, while
        # two replicas running the same VACUUM or cleanup side by side is what the lock exists
        # to prevent. Catching here also keeps a faulty lease from ending the scheduler loop.
        logger.exception("run lock check raised; counting the lock as lost")
        return f"check failed: {describe_error(exc)}"
    return lease.lost_reason or "not held"


async def lost_leases(
    entries: Iterable[Entry], mono: float, interval_s: float
) -> list[tuple[Entry, str]]:
    """Check the leases due at ``mono`` (concurrently); the entries whose lease is lost, and why.

    Attempts that already ended are left alone: their outcome is recorded as it is. Each
    checked entry is next due ``interval_s`` later.
    """
    due: list[tuple[Entry, Lease]] = []
    for entry in entries:
        if entry.lease is None or entry.lease_check_at is None or entry.lease_check_at > mono:
            continue
        if entry.attempt is not None and entry.attempt.done():
            continue
        due.append((entry, entry.lease))
    reasons = await asyncio.gather(*(lost_reason(lease) for _, lease in due))
    lost: list[tuple[Entry, str]] = []
    for (entry, _), reason in zip(due, reasons, strict=True):
        entry.lease_check_at = mono + interval_s
        if reason is not None:
            lost.append((entry, reason))
    return lost
