"""Cost statements under hypothetical indexes with HypoPG, on one session of the target.

Generic plans: a normalized statement has ``$n`` parameters without values. On PostgreSQL 16+
``EXPLAIN (GENERIC_PLAN)`` plans it as is; before 16 it is PREPAREd and explained with
``plan_cache_mode = force_generic_plan`` and NULL arguments, so the NULLs never reach the
planner's estimates (https://www.postgresql.org/docs/current/sql-prepare.html). HypoPG sends no
invalidation when a hypothetical index appears, so a statement is prepared afresh for every
costing (DEALLOCATE afterwards), never reused across index changes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from perfpilot.database.indexdef import IndexDefinition, create_index_sql

logger = logging.getLogger(__name__)

GENERIC_PLAN_VERSION = 160000
STATEMENT_NAME = "perfpilot_whatif"
HYPOPG_VERSION_SQL = "/* perfpilot */ SELECT extversion FROM pg_extension WHERE extname = 'hypopg'"
HYPOPG_INSTALLABLE_SQL = (
    "/* perfpilot */ SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"
)
HYPOPG_CREATE_SQL = "/* perfpilot */ SELECT indexrelid, indexname FROM hypopg_create_index(%s)"
HYPOPG_SIZE_SQL = "/* perfpilot */ SELECT hypopg_relation_size(%s)"
HYPOPG_DROP_SQL = "/* perfpilot */ SELECT hypopg_drop_index(%s)"
HYPOPG_RESET_SQL = "/* perfpilot */ SELECT hypopg_reset()"
PREPARED_SQL = "/* perfpilot */ SELECT 1 FROM pg_prepared_statements WHERE name = %s"
DEALLOCATE_SQL = sql.SQL("/* perfpilot */ DEALLOCATE {}").format(sql.Identifier(STATEMENT_NAME))
SESSION_SETTINGS = (
    # EXPLAIN never executes, and a read-only default makes sure nothing else does either.
    ("default_transaction_read_only", "on"),
    ("plan_cache_mode", "force_generic_plan"),
)


@dataclass(frozen=True)
class PlanCost:
    """The planner's total cost of a statement and the hypothetical indexes its plan used."""

    total: float
    used: frozenset[str]  # HypoPG index names, e.g. "<16421>btree_guests_email"


@dataclass(frozen=True)
class Hypothetical:
    index: IndexDefinition
    oid: int
    name: str
    size_bytes: int


@dataclass(frozen=True)
class WhatIfFailure:
    """A statement that could not be explained, or an index HypoPG refused; ``reason`` is the
    server's error text."""

    reason: str


def hypopg_unavailable(conn: psycopg.Connection[TupleRow]) -> str | None:
    """Why HypoPG cannot be used in this database, or None when it can."""
    if conn.execute(HYPOPG_VERSION_SQL).fetchone() is not None:
        return None
    if conn.execute(HYPOPG_INSTALLABLE_SQL).fetchone() is not None:
        return "HypoPG is installed on the server but not in this database: CREATE EXTENSION hypopg"
    return "HypoPG is not installed on the server (https://github.com/HypoPG/hypopg)"


class WhatIf:
    """Costs statements on one connection; ``costings`` counts the EXPLAINs run."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self.conn = conn
        self.generic_explain = conn.info.server_version >= GENERIC_PLAN_VERSION
        self.costings = 0

    def cost(self, statement: str, param_count: int) -> PlanCost | WhatIfFailure:
        """Explain one statement (already checked to be a single SELECT/INSERT/UPDATE/DELETE)
        under the hypothetical indexes that exist now."""
        self.costings += 1
        try:
            plan = self._explain(statement, param_count)
        except psycopg.Error as exc:
            self._raise_if_broken(exc)
            return WhatIfFailure(_message(exc))
        return PlanCost(float(plan["Total Cost"]), frozenset(_index_names(plan)))

    def create(self, index: IndexDefinition) -> Hypothetical | WhatIfFailure:
        try:
            row = self.conn.execute(HYPOPG_CREATE_SQL, (_hypothetical_sql(index),))
            oid, name = _one(row.fetchone())
            size = _one(self.conn.execute(HYPOPG_SIZE_SQL, (oid,)).fetchone())[0]
        except psycopg.Error as exc:
            self._raise_if_broken(exc)
            return WhatIfFailure(_message(exc))
        return Hypothetical(index, int(oid), str(name), int(size))

    def drop(self, hypothetical: Hypothetical) -> None:
        self.conn.execute(HYPOPG_DROP_SQL, (hypothetical.oid,))

    def reset(self) -> None:
        self.conn.execute(HYPOPG_RESET_SQL)

    def _explain(self, statement: str, param_count: int) -> dict[str, Any]:
        if self.generic_explain:
            return _plan(self.conn.execute(_raw("EXPLAIN (GENERIC_PLAN, FORMAT JSON) ", statement)))
        nulls = ", ".join(["NULL"] * param_count)
        arguments = f"({nulls})" if param_count else ""
        # One round trip for the three statements; a failed EXPLAIN aborts the DEALLOCATE
        # after it, so a statement left prepared is removed before the error goes on.
        try:
            with self.conn.pipeline():
                self.conn.execute(_raw(f"PREPARE {STATEMENT_NAME} AS ", statement))
                cursor = self.conn.execute(
                    _raw("EXPLAIN (FORMAT JSON) ", f"EXECUTE {STATEMENT_NAME}{arguments}")
                )
                self.conn.execute(DEALLOCATE_SQL)
        except psycopg.Error:
            if (
                not self.conn.broken
                and self.conn.execute(PREPARED_SQL, (STATEMENT_NAME,)).fetchone()
            ):
                self.conn.execute(DEALLOCATE_SQL)
            raise
        return _plan(cursor)

    def _raise_if_broken(self, exc: psycopg.Error) -> None:
        """A lost connection ends the run; an error of one statement does not."""
        if self.conn.closed or self.conn.broken:
            raise exc


@contextmanager
def whatif_session(
    conn: psycopg.Connection[TupleRow], statement_timeout_ms: int, lock_timeout_ms: int
) -> Iterator[WhatIf]:
    """A WhatIf on an autocommit ``conn`` with bounded waits; on exit every hypothetical index
    is removed and the session settings restored.

    Autocommit, not one transaction: each EXPLAIN holds its (weak) table locks only while it
    runs, so a long advisor run never holds up DDL of the application.
    """
    if not conn.autocommit:
        raise ValueError("whatif_session needs an autocommit connection")
    settings = (
        *SESSION_SETTINGS,
        ("statement_timeout", str(statement_timeout_ms)),
        ("lock_timeout", str(lock_timeout_ms)),
    )
    for name, value in settings:
        conn.execute("/* perfpilot */ SELECT set_config(%s, %s, false)", (name, value))
    whatif = WhatIf(conn)
    try:
        whatif.reset()
        yield whatif
    finally:
        if not conn.closed and not conn.broken:
            whatif.reset()
            for name, _ in settings:
                conn.execute(sql.SQL("/* perfpilot */ RESET {}").format(sql.Identifier(name)))


@functools.lru_cache(maxsize=4096)
def _hypothetical_sql(index: IndexDefinition) -> str:
    """CREATE INDEX text for hypopg_create_index; cached, the same candidate is made often."""
    return create_index_sql(index, None, concurrently=False)


def _raw(prefix: str, statement: str) -> bytes:
    """Workload text cannot be a bound parameter of PREPARE or EXPLAIN; it is sent as written,
    after the parser has confirmed it is exactly one SELECT/INSERT/UPDATE/DELETE."""
    return f"/* perfpilot */ {prefix}{statement}".encode()


def _plan(cursor: psycopg.Cursor[TupleRow]) -> dict[str, Any]:
    document = _one(cursor.fetchone())[0]
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def _index_names(plan: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in plan:
        yield str(plan["Index Name"])
    for child in plan.get("Plans", ()):
        yield from _index_names(child)


def _one(row: TupleRow | None) -> TupleRow:
    if row is None:
        raise psycopg.ProgrammingError("expected one row, got none")
    return row


def _message(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    return primary or str(exc) or type(exc).__name__
