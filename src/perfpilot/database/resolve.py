"""Bind a parsed QueryShape to the catalog: schema-qualify tables, settle ambiguous columns."""

from __future__ import annotations

from dataclasses import replace

from perfpilot.database.catalog import Catalog, TableInfo
from perfpilot.database.query import is_catalog_table
from perfpilot.database.shape import (
    Disjunction,
    Key,
    Ordering,
    Predicate,
    QueryShape,
    Rejection,
    SortKey,
    TableRef,
)


def resolve_shape(shape: QueryShape, catalog: Catalog) -> QueryShape | Rejection:
    """``shape`` with every table schema-qualified and every key bound to a table that has
    the column; keys that fit no table are dropped. A table outside the allow-listed schemas
    rejects the query: the advisor only looks at what it is allowed to touch."""
    found: dict[TableRef, TableInfo] = {}
    for table in shape.tables:
        info = catalog.find(table)
        if info is not None:
            found[table] = info
        elif not is_catalog_table(table):
            allowed = ", ".join(catalog.schemas)
            return Rejection(f"table {table} not found in the allow-listed schemas ({allowed})")
    predicates = _bound(shape.predicates, found)
    disjunctions = tuple(d for d in (_disjunction(d, found) for d in shape.disjunctions) if d)
    orderings = tuple(o for o in (_ordering(o, found) for o in shape.orderings) if o.keys)
    group_by = tuple(k for k in (_bind(k, found) for k in shape.group_by) if k is not None)
    return replace(
        shape,
        tables=tuple(dict.fromkeys(info.ref for info in found.values())),
        predicates=predicates,
        disjunctions=disjunctions,
        orderings=orderings,
        group_by=group_by,
    )


def _bound(
    predicates: tuple[Predicate, ...], found: dict[TableRef, TableInfo]
) -> tuple[Predicate, ...]:
    return tuple(
        replace(p, key=key) for p in predicates if (key := _bind(p.key, found)) is not None
    )


def _disjunction(disjunction: Disjunction, found: dict[TableRef, TableInfo]) -> Disjunction | None:
    """The OR with its keys bound; None unless every branch keeps a key, all on one table
    (a BitmapOr combines indexes of one table only)."""
    bound = Disjunction(tuple(_bound(b, found) for b in disjunction.branches))
    if not all(bound.branches) or len(bound.tables()) != 1:
        return None
    return bound


def _bind(key: Key, found: dict[TableRef, TableInfo]) -> Key | None:
    tables = (key.table,) if key.table is not None else key.scope
    owners = [found[t] for t in tables if t in found and _has(found[t], key)]
    if len(owners) != 1:
        # Not found, or a column several tables have: PostgreSQL itself would reject the
        # latter as ambiguous, so the text was not what ran.
        return None
    return key.resolved(owners[0].ref)


def _has(info: TableInfo, key: Key) -> bool:
    return key.column is None or key.column in info.columns


def _ordering(ordering: Ordering, found: dict[TableRef, TableInfo]) -> Ordering:
    keys: list[SortKey] = []
    for sort in ordering.keys:
        key = _bind(sort.key, found)
        if key is None:
            break
        keys.append(replace(sort, key=key))
    return replace(ordering, keys=tuple(keys))
