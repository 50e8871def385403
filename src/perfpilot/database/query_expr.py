"""Turn expression nodes into index keys: plain columns, or expressions over one table."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from pglast import ast
from pglast.stream import RawStream
from pglast.visitors import Ancestor, Visitor

from perfpilot.database.query_scope import Scope, Source
from perfpilot.database.query_tree import walk
from perfpilot.database.shape import Key, TableRef

# Node types an expression index can be built on; anything else (CASE, subqueries, ...) is
# left out rather than guessed at.
EXPRESSION_NODES = (ast.FuncCall, ast.A_Expr, ast.TypeCast, ast.CoalesceExpr, ast.CollateClause)
# Aggregates cannot be indexed; without the catalog only the standard ones are recognised.
AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "array_agg", "string_agg"})


class ExpressionReader:
    """Reads keys from expressions at one query level; ``targets`` is the select list, for
    ORDER BY / GROUP BY by output name or position (empty where those are not visible)."""

    def __init__(self, scope: Scope, targets: tuple[ast.ResTarget, ...]) -> None:
        self.scope = scope
        self.targets = targets

    def key(self, node: ast.Node | None) -> Key | None:
        """The base-table key ``node`` denotes, or None when no index key can stand for it."""
        node = self._target_expression(node)
        if isinstance(node, ast.ColumnRef):
            return self.column(node)
        if isinstance(node, EXPRESSION_NODES):
            return self._expression(node)
        return None

    def tables_in(self, node: object) -> set[TableRef]:
        """Tables whose columns ``node`` references (an ambiguous column counts all of them)."""
        tables: set[TableRef] = set()
        for ref in _column_refs(node):
            key = self.column(ref)
            if key is not None:
                tables.update((key.table,) if key.table is not None else key.scope)
        return tables

    def outputs(self) -> Source:
        """The select list as a derived Source: output name to base key."""
        source = Source()
        for target in self.targets:
            if isinstance(target.val, ast.ColumnRef) and _is_star(target.val):
                self._star(target.val, source)
                continue
            key = self.key(target.val)
            name = target.name or _column_name(target.val)
            if key is not None and name is not None:
                source.outputs[name] = key
        return source

    def _star(self, ref: ast.ColumnRef, into: Source) -> None:
        fields = ref.fields or ()
        if len(fields) > 1:
            found = self.scope.source(str(getattr(fields[-2], "sval", "")))
            sources = [found] if found is not None else []
        else:
            sources = list(self.scope.sources.values())
        if len(sources) != 1:
            return
        into.outputs.update(sources[0].outputs)
        into.star = sources[0].table or sources[0].star

    def _target_expression(self, node: ast.Node | None) -> ast.Node | None:
        """ORDER BY 2 or ORDER BY an output alias refers to the select list's expression."""
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            position = int(node.val.ival or 0)
            if 1 <= position <= len(self.targets):
                return self.targets[position - 1].val
            return None
        names = column_names(node) if isinstance(node, ast.ColumnRef) else None
        if names is not None and len(names) == 1:
            name = names[0]
            for target in self.targets:
                if target.name is not None and target.name == name:
                    return target.val
        return node

    def column(self, ref: ast.ColumnRef) -> Key | None:
        """The base key of a column reference, or None (``*``, unknown alias)."""
        names = column_names(ref)
        return self.scope.column(names) if names else None

    def _expression(self, node: ast.Node) -> Key | None:
        if not _indexable(node):
            return None
        keys = [self.column(ref) for ref in _column_refs(node)]
        tables = {k.table for k in keys if k is not None}
        if not keys or None in keys or len(tables) != 1 or None in tables:
            return None
        table = tables.pop()
        assert table is not None  # guarded above; narrows for the type checker
        return Key(table, None, expression=self._deparse(node))

    def _deparse(self, node: ast.Node) -> str:
        """SQL of ``node`` with every column reference reduced to its base column name."""
        bare = copy.deepcopy(node)
        _Unqualify(self)(bare)
        return str(RawStream()(bare))


class _Unqualify(Visitor):
    def __init__(self, reader: ExpressionReader) -> None:
        self.reader = reader

    def visit_ColumnRef(self, ancestors: Ancestor, node: ast.ColumnRef) -> ast.ColumnRef:
        key = self.reader.column(node)
        names = column_names(node) or ["?"]
        column = key.column if key is not None and key.column else names[-1]
        return ast.ColumnRef(fields=(ast.String(column),))


def _indexable(node: ast.Node) -> bool:
    for child in walk(node):
        if isinstance(child, ast.ParamRef | ast.SubLink):
            return False
        if isinstance(child, ast.FuncCall) and (
            child.agg_star
            or child.agg_distinct
            or child.over is not None
            or getattr((child.funcname or (None,))[-1], "sval", None) in AGGREGATES
        ):
            return False
    return True


def _column_refs(node: object) -> Iterator[ast.ColumnRef]:
    for child in walk(node):
        if isinstance(child, ast.ColumnRef):
            yield child


def _column_name(node: ast.Node | None) -> str | None:
    """PostgreSQL's default output name of a plain column (its last name part)."""
    names = column_names(node) if isinstance(node, ast.ColumnRef) else None
    return names[-1] if names else None


def column_names(ref: ast.ColumnRef) -> list[str] | None:
    """The name parts of a column reference; None for ``*`` and ``t.*``."""
    fields = ref.fields or ()
    names = [f.sval for f in fields if isinstance(f, ast.String) and f.sval is not None]
    return names if names and len(names) == len(fields) else None


def _is_star(ref: ast.ColumnRef) -> bool:
    return bool(ref.fields) and isinstance((ref.fields or ())[-1], ast.A_Star)
