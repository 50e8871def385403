"""Walk a pglast statement tree: resolve aliases, CTEs, subqueries and views to base tables and
collect the predicates, orderings and groupings an index could serve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pglast
from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    BoolExprType,
    NullTestType,
    SetOperation,
    SortByDir,
    SubLinkType,
)

from perfpilot.database.like_prefix import left_anchored
from perfpilot.database.query_expr import ExpressionReader
from perfpilot.database.query_scope import Scope, Source
from perfpilot.database.query_tree import max_param, outer_sublinks, walk
from perfpilot.database.shape import (
    Bound,
    Disjunction,
    Key,
    Ordering,
    ParamBound,
    Predicate,
    PredicateKind,
    SortKey,
    TableRef,
)

# Views nest; PostgreSQL forbids cycles, the limit only bounds the work.
MAX_VIEW_DEPTH = 8
LIKE_OPERATOR = "~~"  # LIKE; NOT LIKE (!~~) and ILIKE (~~*) cannot use a btree range
RANGE_BOUNDS = {"<": Bound.UPPER, "<=": Bound.UPPER, ">": Bound.LOWER, ">=": Bound.LOWER}
FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class StatementWalker:
    """Collects what a statement asks of its tables (mutable while walking, then discarded)."""

    view_definitions: Mapping[str, str]
    depth: int = 0
    tables: list[TableRef] = field(default_factory=list)
    views: list[TableRef] = field(default_factory=list)
    predicates: list[Predicate] = field(default_factory=list)
    orderings: list[Ordering] = field(default_factory=list)
    group_by: list[Key] = field(default_factory=list)
    disjunctions: list[Disjunction] = field(default_factory=list)
    param_count: int = 0

    def statement(self, node: ast.Node | None, parent: Scope | None) -> Source:
        """Walk one SELECT/INSERT/UPDATE/DELETE; returns its output columns as a Source."""
        if node is None:
            return Source()
        self.param_count = max(self.param_count, max_param(node))
        scope = Scope(parent)
        with_clause = getattr(node, "withClause", None)
        if with_clause is not None:
            self._ctes(with_clause, scope)
        if isinstance(node, ast.SelectStmt):
            return self._select(node, scope)
        if isinstance(node, ast.InsertStmt):
            self._from_items((node.relation,), scope)
            self.statement(node.selectStmt, scope)
        elif isinstance(node, ast.UpdateStmt):
            self._from_items((node.relation, *(node.fromClause or ())), scope)
            self._condition(node.whereClause, scope)
            self._sublinks(node.targetList, scope)
        elif isinstance(node, ast.DeleteStmt):
            self._from_items((node.relation, *(node.usingClause or ())), scope)
            self._condition(node.whereClause, scope)
        return Source()

    def _ctes(self, with_clause: ast.WithClause, scope: Scope) -> None:
        for cte in with_clause.ctes or ():
            # Registered before its body is walked: a recursive CTE refers to itself.
            scope.ctes[cte.ctename] = Source()
            scope.ctes[cte.ctename] = self.statement(cte.ctequery, scope)

    def _select(self, node: ast.SelectStmt, scope: Scope) -> Source:
        if node.op != SetOperation.SETOP_NONE:
            self.statement(node.larg, scope)
            self.statement(node.rarg, scope)
            return Source()
        self._from_items(node.fromClause or (), scope)
        self._condition(node.whereClause, scope)
        self._sublinks(node.havingClause, scope)
        self._sublinks(node.targetList, scope)
        reader = self._reader(scope, node.targetList)
        self.group_by.extend(k for k in map(reader.key, node.groupClause or ()) if k)
        self._ordering(node, reader)
        return reader.outputs()

    def _reader(self, scope: Scope, targets: tuple[ast.ResTarget, ...] | None) -> ExpressionReader:
        return ExpressionReader(scope, tuple(targets or ()))

    def _ordering(self, node: ast.SelectStmt, reader: ExpressionReader) -> None:
        keys: list[SortKey] = []
        for sort in node.sortClause or ():
            key = reader.key(sort.node)
            if key is None:
                # A key an index cannot provide breaks the ordering at this point.
                break
            keys.append(SortKey(key, descending=sort.sortby_dir == SortByDir.SORTBY_DESC))
        if keys:
            self.orderings.append(Ordering(tuple(keys), limited=node.limitCount is not None))

    # --- FROM ------------------------------------------------------------------------------

    def _from_items(self, items: tuple[ast.Node | None, ...], scope: Scope) -> None:
        for item in items:
            self._from_item(item, scope)

    def _from_item(self, item: ast.Node | None, scope: Scope) -> list[Source]:
        if isinstance(item, ast.RangeVar):
            return [self._range_var(item, scope)]
        if isinstance(item, ast.JoinExpr):
            left = self._from_item(item.larg, scope)
            right = self._from_item(item.rarg, scope)
            self._condition(item.quals, scope, from_join=True)
            self._using(item.usingClause or (), [*left, *right])
            return [*left, *right]
        if isinstance(item, ast.RangeSubselect):
            source = self.statement(item.subquery, scope)
            if item.alias is not None and item.alias.aliasname:
                scope.sources[item.alias.aliasname] = source
            return [source]
        return []

    def _range_var(self, var: ast.RangeVar, scope: Scope) -> Source:
        name = var.relname or ""
        ref = TableRef(var.schemaname, name)
        cte = scope.cte(name) if var.schemaname is None else None
        view = self.view_definitions.get(str(ref))
        if cte is not None:
            source = cte
        elif view is not None and self.depth < MAX_VIEW_DEPTH:
            source = self._view(ref, view)
        else:
            source = Source(table=ref)
            if ref not in self.tables:
                self.tables.append(ref)
        alias = var.alias.aliasname if var.alias is not None else None
        scope.sources[alias or name] = source
        return source

    def _view(self, ref: TableRef, definition: str) -> Source:
        if ref not in self.views:
            self.views.append(ref)
        inner = StatementWalker(self.view_definitions, depth=self.depth + 1)
        source = inner.statement(pglast.parse_sql(definition)[0].stmt, None)
        for table in inner.tables:
            if table not in self.tables:
                self.tables.append(table)
        self.views.extend(v for v in inner.views if v not in self.views)
        self.predicates.extend(inner.predicates)
        self.disjunctions.extend(inner.disjunctions)
        self.orderings.extend(inner.orderings)
        return source

    def _using(self, names: tuple[ast.String, ...], sources: list[Source]) -> None:
        tables = [s.table for s in sources if s.table is not None]
        for name in names:
            for table in tables:
                key = Key(table, name.sval or "")
                self.predicates.append(Predicate(key, PredicateKind.EQUALITY, from_join=True))

    # --- WHERE / ON --------------------------------------------------------------------------

    def _condition(self, expr: ast.Node | None, scope: Scope, from_join: bool = False) -> None:
        if expr is None:
            return
        reader = ExpressionReader(scope, ())
        if isinstance(expr, ast.BoolExpr) and expr.boolop == BoolExprType.AND_EXPR:
            for arg in expr.args or ():
                self._condition(arg, scope, from_join)
            return
        if isinstance(expr, ast.BoolExpr) and expr.boolop == BoolExprType.OR_EXPR:
            self._disjunction(expr, scope)
        if isinstance(expr, ast.A_Expr):
            self._a_expr(expr, reader, from_join)
        elif isinstance(expr, ast.NullTest) and expr.nulltesttype == NullTestType.IS_NULL:
            self._add(reader.key(expr.arg), PredicateKind.IS_NULL, from_join)
        elif isinstance(expr, ast.ColumnRef):
            self._add(reader.key(expr), PredicateKind.EQUALITY, from_join)
        elif isinstance(expr, ast.SubLink) and expr.subLinkType == SubLinkType.ANY_SUBLINK:
            self._add(reader.key(expr.testexpr), PredicateKind.IN, from_join)
        self._sublinks(expr, scope)

    def _disjunction(self, expr: ast.BoolExpr, scope: Scope) -> None:
        """Record an OR whose every branch has a predicate an index can serve; a branch
        without one needs a full scan anyway. Branches holding subqueries are left out: the
        subquery's own predicates must not pass for the branch's."""
        if any(isinstance(node, ast.SubLink) for node in walk(expr)):
            return
        outer, outer_or = self.predicates, self.disjunctions
        branches = []
        for arg in expr.args or ():
            self.predicates, self.disjunctions = [], []
            self._condition(arg, scope)
            branches.append(tuple(p for p in self.predicates if not p.from_join))
        self.predicates, self.disjunctions = outer, outer_or
        if branches and all(branches):
            self.disjunctions.append(Disjunction(tuple(branches)))

    def _a_expr(self, expr: ast.A_Expr, reader: ExpressionReader, from_join: bool) -> None:
        operator = str(getattr((expr.name or (None,))[-1], "sval", ""))
        left = expr.lexpr
        right = expr.rexpr if isinstance(expr.rexpr, ast.Node) else None
        if expr.kind == A_Expr_Kind.AEXPR_OP and operator in FLIPPED and left and right:
            self._comparison(left, operator, right, reader, from_join)
            self._comparison(right, FLIPPED[operator], left, reader, from_join)
        elif expr.kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and operator == "=":
            if not reader.tables_in(expr.rexpr):
                self._add(reader.key(left), PredicateKind.IN, from_join)
        elif (
            expr.kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM)
            and isinstance(expr.rexpr, tuple)
            and len(expr.rexpr) == 2
        ):
            low, high = expr.rexpr
            params = _param_bounds(low, Bound.LOWER) + _param_bounds(high, Bound.UPPER)
            self._add(reader.key(expr.lexpr), PredicateKind.RANGE, from_join, params)
        elif expr.kind == A_Expr_Kind.AEXPR_LIKE and operator == LIKE_OPERATOR and left:
            self._like(left, right, reader)

    def _like(self, left: ast.Node, pattern: ast.Node | None, reader: ExpressionReader) -> None:
        """``col LIKE 'abc%'`` is a prefix predicate, ``col LIKE '%abc'`` nothing. For
        ``col LIKE $n`` the pattern is unknown: it is taken for a prefix search and costed with
        a representative prefix (representative.py), so HypoPG has the last word."""
        while isinstance(pattern, ast.TypeCast):
            pattern = pattern.arg
        key = reader.key(left)
        if key is None:
            return
        if isinstance(pattern, ast.ParamRef) and pattern.number:
            prefix = Predicate(key, PredicateKind.PREFIX, pattern_param=int(pattern.number))
            self.predicates.append(prefix)
        elif (
            isinstance(pattern, ast.A_Const)
            and isinstance(pattern.val, ast.String)
            and left_anchored(pattern.val.sval or "")
        ):
            self._add(key, PredicateKind.PREFIX, from_join=False)

    def _comparison(
        self, side: ast.Node, operator: str, other: ast.Node, reader: ExpressionReader, join: bool
    ) -> None:
        key = reader.key(side)
        if key is None:
            return
        other_tables = reader.tables_in(other)
        if key.table is not None and key.table in other_tables:
            return
        if operator == "=":
            self._add(key, PredicateKind.EQUALITY, join or bool(other_tables))
        else:
            params = _param_bounds(other, RANGE_BOUNDS[operator])
            self._add(key, PredicateKind.RANGE, join or bool(other_tables), params)

    def _add(
        self,
        key: Key | None,
        kind: PredicateKind,
        from_join: bool,
        params: tuple[ParamBound, ...] = (),
    ) -> None:
        if key is not None:
            self.predicates.append(Predicate(key, kind, from_join, params))

    def _sublinks(self, node: ast.Node | tuple[ast.Node, ...] | None, scope: Scope) -> None:
        """Walk the subqueries inside an expression, each in a scope that sees this one."""
        sublinks = [node] if isinstance(node, ast.SubLink) else outer_sublinks(node)
        for sublink in sublinks:
            self.statement(sublink.subselect, scope)


def _param_bounds(node: ast.Node | None, bound: Bound) -> tuple[ParamBound, ...]:
    """The ``$n`` that sets ``bound`` when ``node`` is a parameter (possibly cast)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ParamRef) and node.number:
        return (ParamBound(int(node.number), bound),)
    return ()
