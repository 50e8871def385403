"""Types the health checks share: thresholds, findings with evidence, the check context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import TupleRow


def in_scope(column: str) -> str:
    """SQL condition: schema ``column`` is allow-listed, or any non-system one when NULL.

    System schemas are the catalogs and the toast and temporary ones (pg_toast, pg_temp_N,
    pg_toast_temp_N). ``column`` is a fixed alias in this package's SQL constants, never input.
    """
    return (
        f"({column} <> ALL (ARRAY['pg_catalog', 'information_schema'])"
        f" AND {column} !~ '^pg_(toast|temp_)'"
        f" AND (%(schemas)s::text[] IS NULL OR {column} = ANY (%(schemas)s::text[])))"
    )


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    # The check itself could not run (e.g. permission denied); its message says why.
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One number (or text) behind a finding; ``None`` means unknown, never zero."""

    name: str
    value: float | int | str | None
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found about ``subject`` (a table, index, session, or the database)."""

    check: str
    severity: Severity
    subject: str
    message: str
    evidence: tuple[Evidence, ...] = ()

    def value(self, name: str) -> float | int | str | None:
        """The evidence value called ``name``; KeyError when the finding has none."""
        for item in self.evidence:
            if item.name == name:
                return item.value
        raise KeyError(f"{self.check} finding on {self.subject} has no evidence {name!r}")


@dataclass(frozen=True, slots=True)
class CheckThresholds:
    """When a check flags something; defaults follow PgHero unless noted."""

    # PgHero slow_query_ms = 20 and slow_query_calls = 100.
    slow_query_mean_ms: float = 20.0
    slow_query_min_calls: int = 100
    # PgHero long_running_query_sec = 60.
    long_running_s: float = 60.0
    # Idle in transaction holds locks and the xmin horizon; a minute is already long for a web
    # request (PostgreSQL's idle_in_transaction_session_timeout is off by default).
    idle_in_transaction_s: float = 60.0
    # Share of max_connections (minus superuser_reserved_connections) in use.
    connections_warning_ratio: float = 0.7
    connections_critical_ratio: float = 0.9
    # PgHero cache_hit_rate_threshold = 99 (%).
    cache_hit_ratio_min: float = 0.99
    # idx_scan at or below this counts as unused (PgHero uses 50; 0 is stricter and safer).
    unused_index_max_scans: int = 0
    # Bloat estimates are rough: only large, mostly empty relations are worth a rewrite.
    bloat_min_bytes: int = 100 * 1024 * 1024
    bloat_min_ratio: float = 0.5
    # A sequential scan is only a problem on a table with enough rows and scans.
    seq_scan_min_rows: int = 10_000
    seq_scan_min_count: int = 100
    seq_scan_min_share: float = 0.5
    # PgHero sequence_danger threshold = 0.9 of the maximum value.
    sequence_used_ratio: float = 0.9
    sequence_critical_ratio: float = 0.99
    # PgHero transaction_id_danger threshold = 10M transactions left before wraparound.
    xid_remaining_critical: int = 10_000_000
    # XID age above which autovacuum is behind; None uses the server's autovacuum_freeze_max_age.
    xid_age_warning: int | None = None
    largest_relations_limit: int = 10
    # Upper bound for each check's statement (SET LOCAL statement_timeout).
    statement_timeout_ms: int = 30_000
    query_text_limit: int = 1000


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What every check gets: the connection, thresholds and the schema allow-list."""

    conn: psycopg.Connection[TupleRow]
    thresholds: CheckThresholds
    now: datetime
    # None: every non-system schema.
    schemas: tuple[str, ...] | None = None

    def fetch(self, query: str, **params: Any) -> list[TupleRow]:
        """Rows of one of the checks' SQL constants, with ``schemas`` always bound."""
        return self.conn.execute(query, {"schemas": self.schemas_param, **params}).fetchall()

    @property
    def schemas_param(self) -> list[str] | None:
        return None if self.schemas is None else list(self.schemas)


CheckFunction = Callable[[CheckContext], Sequence[Finding]]


def qualified(schema: str, name: str) -> str:
    """``schema.name`` for display (quoted only where PostgreSQL would need it)."""
    return f"{_display(schema)}.{_display(name)}"


def _display(name: str) -> str:
    plain = name.isidentifier() and name == name.lower() and name.isascii()
    return name if plain else '"' + name.replace('"', '""') + '"'
