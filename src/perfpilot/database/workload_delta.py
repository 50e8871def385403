"""Per-period workload: the difference between two cumulative pg_stat_statements snapshots.

pg_stat_statements counts from its last reset, so "slow in the last hour" needs periodic
snapshots and their differences. Counters can restart: a reset (of everything or one entry),
an entry evicted when ``pg_stat_statements.max`` is reached and later re-added, or a server
restart without a saved stats file. An entry whose counters went backwards therefore counts from
zero, so its whole current value belongs to the period. Entries that vanished contribute
nothing; what they did between the previous snapshot and their eviction is unknowable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from perfpilot.database.workload import StatementCounters, StatementGroup, WorkloadSnapshot
from perfpilot.database.workload import group_statements as _group_statements


@dataclass(frozen=True, slots=True)
class WorkloadDelta:
    """What the database's statements did in (started_at, ended_at].

    ``stats_reset`` is True when counters restarted inside the period (a reset, or entries whose
    counters went backwards); figures are then lower bounds.
    """

    database: str
    started_at: datetime
    ended_at: datetime
    stats_reset: bool
    statements: tuple[StatementCounters, ...]


def snapshot_delta(previous: WorkloadSnapshot, current: WorkloadSnapshot) -> WorkloadDelta:
    """``current`` minus ``previous``, entry by entry; entries without new calls are left out.

    Raises ValueError when the snapshots are of different databases or out of order.
    """
    if previous.database != current.database:
        raise ValueError(f"snapshots of {previous.database!r} and {current.database!r} differ")
    if current.taken_at <= previous.taken_at:
        raise ValueError(
            f"snapshot at {current.taken_at.isoformat()} is not after"
            f" {previous.taken_at.isoformat()}"
        )
    reset_all = (
        current.stats_reset_at is not None
        and previous.stats_reset_at is not None
        and current.stats_reset_at > previous.stats_reset_at
    )
    before = {} if reset_all else {entry.key: entry for entry in previous.statements}
    deltas: list[StatementCounters] = []
    restarted = reset_all
    for entry in current.statements:
        old = before.get(entry.key)
        if old is not None and _went_backwards(old, entry):
            restarted = True
            old = None
        delta = entry if old is None else _subtract(entry, old)
        if delta.calls > 0:
            deltas.append(delta)
    return WorkloadDelta(
        database=current.database,
        started_at=previous.taken_at,
        ended_at=current.taken_at,
        stats_reset=restarted,
        statements=tuple(deltas),
    )


def workload_since(deltas: Iterable[WorkloadDelta], since: datetime) -> list[StatementGroup]:
    """Statement groups summed over the periods that ended after ``since``.

    The resolution is the snapshot interval: a period that straddles ``since`` counts whole.
    """
    entries = (entry for d in deltas if d.ended_at > since for entry in d.statements)
    return _group_statements(entries)


def _went_backwards(old: StatementCounters, new: StatementCounters) -> bool:
    # Any falling counter means the entry restarted; a restart followed by more activity than
    # before cannot be told apart (PostgreSQL keeps no per-entry reset time before 17).
    return (
        new.calls < old.calls
        or new.total_ms < old.total_ms
        or new.rows < old.rows
        or new.shared_blks_hit < old.shared_blks_hit
        or new.shared_blks_read < old.shared_blks_read
    )


def _subtract(new: StatementCounters, old: StatementCounters) -> StatementCounters:
    return StatementCounters(
        queryid=new.queryid,
        userid=new.userid,
        toplevel=new.toplevel,
        fingerprint=new.fingerprint,
        query=new.query,
        calls=new.calls - old.calls,
        total_ms=new.total_ms - old.total_ms,
        rows=new.rows - old.rows,
        shared_blks_hit=new.shared_blks_hit - old.shared_blks_hit,
        shared_blks_read=new.shared_blks_read - old.shared_blks_read,
    )
