"""The Store protocol both backends implement, and what they share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from perfpilot.core.errors import PerfpilotError
from perfpilot.monitor.ports import AlertStore, RollupStore
from perfpilot.store.sqlrunner import SqlRunner


class StoreError(PerfpilotError):
    """The store could not be reached or refused an operation; the message says which."""


class Store(RollupStore, AlertStore, Protocol):
    """Everything perfpilot persists, plus schema management and health."""

    def migrate(self) -> list[int]:
        """Apply the missing schema migrations; returns the versions applied by this call."""
        ...

    def schema_version(self) -> int:
        """Highest applied migration version; 0 before the first migration."""
        ...

    def ping(self) -> None:
        """Round-trip to the backend; raises :class:`StoreError` with the reason when down."""
        ...

    def describe(self) -> str:
        """Backend and location, never a password (for logs and ``/readyz``)."""
        ...

    @property
    def runner(self) -> SqlRunner:
        """Runs the SQL of repositories written once for both backends."""
        ...

    def close(self) -> None:
        """Release connections; calling it twice is harmless."""
        ...


def to_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is rejected since its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} cannot be stored; attach a tz")
    return moment.astimezone(UTC)


def check_limit(limit: int) -> None:
    """Reject a negative limit, which SQLite would read as 'no limit' and PostgreSQL refuses."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
