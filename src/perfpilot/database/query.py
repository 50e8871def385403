"""Parse one SQL statement with pglast into a QueryShape, or say why it cannot be used."""

from __future__ import annotations

from collections.abc import Mapping

import pglast
from pglast import ast

from perfpilot.database.query_walk import StatementWalker
from perfpilot.database.shape import QueryShape, Rejection, StatementKind, TableRef

STATEMENT_KINDS: dict[type[ast.Node], StatementKind] = {
    ast.SelectStmt: StatementKind.SELECT,
    ast.InsertStmt: StatementKind.INSERT,
    ast.UpdateStmt: StatementKind.UPDATE,
    ast.DeleteStmt: StatementKind.DELETE,
}
CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


def parse_query(text: str, views: Mapping[str, str] | None = None) -> QueryShape | Rejection:
    """The shape of ``text``; ``views`` maps a view's name (``schema.name`` or bare name, as
    it is written in queries) to its definition, so predicates through a view reach the
    base tables. A Rejection names the reason the advisor cannot use the statement."""
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        return Rejection(f"unparsable: {exc}")
    if len(statements) != 1:
        return Rejection(f"{len(statements)} statements in one text; expected exactly one")
    statement = statements[0].stmt
    kind = STATEMENT_KINDS.get(type(statement)) if statement is not None else None
    if kind is None:
        name = type(statement).__name__
        return Rejection(f"utility statement ({name}): it has no plan an index could change")
    walker = StatementWalker(views or {})
    walker.statement(statement, None)
    return _shape(kind, walker)


def _shape(kind: StatementKind, walker: StatementWalker) -> QueryShape | Rejection:
    if not walker.tables:
        return Rejection("reads no table (a constant query such as SELECT 1)")
    if all(is_catalog_table(table) for table in walker.tables):
        return Rejection("catalog-only: reads only pg_catalog / information_schema relations")
    return QueryShape(
        kind=kind,
        tables=tuple(walker.tables),
        predicates=tuple(walker.predicates),
        disjunctions=tuple(walker.disjunctions),
        orderings=tuple(walker.orderings),
        group_by=tuple(walker.group_by),
        param_count=walker.param_count,
        views=tuple(walker.views),
    )


def is_catalog_table(table: TableRef) -> bool:
    """Whether ``table`` is a system relation.

    An unqualified ``pg_`` name is counted as catalog: pg_catalog is searched before the
    search path unless listed explicitly (https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-CATALOG).
    """
    if table.schema is not None:
        return table.schema in CATALOG_SCHEMAS
    return table.name.startswith("pg_")
