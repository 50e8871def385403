"""A btree index definition, its deterministic name and its DDL, quoted by pglast."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.enums import SortByDir, SortByNulls
from pglast.stream import RawStream

from perfpilot.database.shape import TableRef

# NAMEDATALEN - 1: https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS
MAX_IDENTIFIER_BYTES = 63
NAME_PREFIX = "perfpilot_"
NAME_SUFFIX = "_idx"
HASH_CHARS = 8


@dataclass(frozen=True)
class IndexKey:
    """One key of an index: a column, or an expression (deparsed SQL, columns unqualified).

    ``opclass`` is a non-default operator class (``text_pattern_ops``), None for the type's
    default one: https://www.postgresql.org/docs/current/indexes-opclass.html
    """

    column: str | None
    expression: str | None = None
    descending: bool = False
    opclass: str | None = None

    @property
    def label(self) -> str:
        """The key as the catalog lists it: a column name, or ``(expression)``."""
        return self.column if self.column is not None else f"({self.expression})"

    def __str__(self) -> str:
        return self.label if self.opclass is None else f"{self.label} {self.opclass}"


@dataclass(frozen=True)
class IndexDefinition:
    table: TableRef  # schema-qualified
    keys: tuple[IndexKey, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(k.label for k in self.keys)

    def __str__(self) -> str:
        return f"{self.table} ({', '.join(map(str, self.keys))})"


def index_name(index: IndexDefinition) -> str:
    """``perfpilot_<table>_<keys>_idx``, at most 63 bytes; a longer name is cut and made unique
    by a hash of the full name, so the same definition always gets the same name."""
    parts = [_sanitize(index.table.name), *(_name_part(k) for k in index.keys)]
    full = NAME_PREFIX + "_".join(parts) + NAME_SUFFIX
    if len(full.encode()) <= MAX_IDENTIFIER_BYTES:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:HASH_CHARS]
    room = MAX_IDENTIFIER_BYTES - len(NAME_PREFIX) - len(NAME_SUFFIX) - HASH_CHARS - 1
    stem = full[len(NAME_PREFIX) :].encode()[:room].decode(errors="ignore").rstrip("_")
    return f"{NAME_PREFIX}{stem}_{digest}{NAME_SUFFIX}"


def create_index_sql(index: IndexDefinition, name: str | None, concurrently: bool) -> str:
    """``CREATE INDEX`` for ``index``; every identifier quoted as PostgreSQL requires."""
    statement = ast.IndexStmt(
        idxname=name,
        relation=ast.RangeVar(
            schemaname=index.table.schema, relname=index.table.name, inh=True, relpersistence="p"
        ),
        accessMethod="btree",
        indexParams=tuple(_element(k) for k in index.keys),
        concurrent=concurrently,
    )
    return str(RawStream()(statement))


def key_sql(key: IndexKey) -> str:
    """One key as it appears between the parentheses of CREATE INDEX, quoted."""
    return str(RawStream()(_element(key)))


def normalize_index_key(definition: str) -> str:
    """A key as ``pg_get_indexdef(oid, k, true)`` prints it, in IndexKey.label form."""
    try:
        target = expression_node(definition)
    except pglast.parser.ParseError:
        return definition
    fields = target.fields or () if isinstance(target, ast.ColumnRef) else ()
    if fields and isinstance(fields[-1], ast.String):
        return str(fields[-1].sval)
    return f"({RawStream()(target)})"


def expression_node(expression: str) -> ast.Node:
    """The parse tree of one expression; raises ParseError when it is not exactly one."""
    statement = pglast.parse_sql(f"SELECT {expression}")[0].stmt
    if isinstance(statement, ast.SelectStmt) and statement.targetList:
        target = statement.targetList[0]
        if len(statement.targetList) == 1 and isinstance(target.val, ast.Node):
            return target.val
    raise pglast.parser.ParseError(f"not one expression: {expression}", 0)


def _element(key: IndexKey) -> ast.IndexElem:
    ordering = SortByDir.SORTBY_DESC if key.descending else SortByDir.SORTBY_DEFAULT
    opclass = (ast.String(key.opclass),) if key.opclass is not None else None
    if key.column is not None:
        return ast.IndexElem(
            name=key.column,
            opclass=opclass,
            ordering=ordering,
            nulls_ordering=SortByNulls.SORTBY_NULLS_DEFAULT,
        )
    return ast.IndexElem(
        expr=expression_node(key.expression or ""),
        opclass=opclass,
        ordering=ordering,
        nulls_ordering=SortByNulls.SORTBY_NULLS_DEFAULT,
    )


def _name_part(key: IndexKey) -> str:
    """A key in a name: lower-case letters, digits and underscores (``lower(email)`` gives
    ``lower_email``); a descending key ends in ``_desc``, an operator class is appended
    (``last_name_text_pattern_ops``) so it never shares a name with the default-class index."""
    text = _sanitize(key.label) or "expr"
    if key.opclass is not None:
        text = f"{text}_{_sanitize(key.opclass)}"
    return f"{text}_desc" if key.descending else text


def _sanitize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
