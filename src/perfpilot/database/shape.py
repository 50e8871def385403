"""What a query asks of its tables: the typed result of parsing, input to index candidates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class StatementKind(StrEnum):
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


class PredicateKind(StrEnum):
    """How a predicate can use a btree key; equality-like kinds go first in a composite."""

    EQUALITY = "equality"
    IN = "in"
    IS_NULL = "is_null"
    RANGE = "range"
    # ``col LIKE 'abc%'``: a btree serves it as the range ['abc', 'abd'), so it sorts with
    # the ranges, after the equality keys of a composite.
    PREFIX = "prefix"

    @property
    def equality_like(self) -> bool:
        return self not in (PredicateKind.RANGE, PredicateKind.PREFIX)


class Bound(StrEnum):
    """Which side of a range a parameter sets: ``col > $1`` is LOWER, ``col < $1`` UPPER."""

    LOWER = "lower"
    UPPER = "upper"


@dataclass(frozen=True)
class TableRef:
    """A relation as named in SQL; ``schema`` None means found through the search path."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class Key:
    """A column, or an expression over columns of one table: what an index key is built on.

    ``table`` is None while an unqualified column could belong to any of ``scope`` (several
    tables in FROM); the catalog step resolves it. ``expression`` is the deparsed SQL with
    column references unqualified (``lower(email)``); ``column`` is then None.
    """

    table: TableRef | None
    column: str | None
    expression: str | None = None
    scope: tuple[TableRef, ...] = ()

    @property
    def label(self) -> str:
        return self.column if self.column is not None else f"({self.expression})"

    def resolved(self, table: TableRef) -> Key:
        return replace(self, table=table, scope=())


@dataclass(frozen=True)
class ParamBound:
    """A ``$n`` parameter that bounds a range predicate (for representative constants)."""

    number: int
    bound: Bound


@dataclass(frozen=True)
class Predicate:
    """``pattern_param`` is the ``$n`` of ``col LIKE $n`` (a PREFIX predicate whose pattern is
    only known from representative values); None for a constant pattern and other kinds."""

    key: Key
    kind: PredicateKind
    from_join: bool = False
    params: tuple[ParamBound, ...] = ()
    pattern_param: int | None = None


@dataclass(frozen=True)
class Disjunction:
    """``a = $1 OR b = $2``: each branch the indexable predicates of one OR operand, all on
    one table. No single index serves it, but one per branch gives a BitmapOr."""

    branches: tuple[tuple[Predicate, ...], ...]

    def tables(self) -> set[TableRef | None]:
        return {p.key.table for branch in self.branches for p in branch}


@dataclass(frozen=True)
class SortKey:
    key: Key
    descending: bool = False


@dataclass(frozen=True)
class Ordering:
    """One ORDER BY (of the statement or of a subquery); ``limited`` when it has a LIMIT."""

    keys: tuple[SortKey, ...]
    limited: bool = False

    def table(self) -> TableRef | None:
        """The one table every sort key belongs to, else None (an index cannot serve it)."""
        tables = {k.key.table for k in self.keys}
        only = tables.pop() if len(tables) == 1 else None
        return only


@dataclass(frozen=True)
class QueryShape:
    """The index-relevant parts of one statement, subqueries, CTEs and views included."""

    kind: StatementKind
    tables: tuple[TableRef, ...]
    predicates: tuple[Predicate, ...] = ()
    orderings: tuple[Ordering, ...] = ()
    group_by: tuple[Key, ...] = ()
    param_count: int = 0
    views: tuple[TableRef, ...] = ()
    disjunctions: tuple[Disjunction, ...] = ()

    def keys_of(self, table: TableRef) -> tuple[Key, ...]:
        """Every key of ``table`` the query filters (OR branches included), joins, sorts or
        groups on."""
        keys = [p.key for p in self.predicates]
        keys += [p.key for d in self.disjunctions for b in d.branches for p in b]
        keys += [s.key for o in self.orderings for s in o.keys]
        return tuple(k for k in (*keys, *self.group_by) if k.table == table)


@dataclass(frozen=True)
class Rejection:
    """Why a query cannot be used by the advisor (unparsable, utility, catalog-only, ...)."""

    reason: str
