"""Representative constants for one-sided range parameters, from pg_stats histograms.

A generic plan knows nothing about ``$n``: for ``col > $1`` it assumes a third of the table
matches (DEFAULT_INEQ_SEL in src/include/utils/selfuncs.h), so an index on ``col`` looks
useless even when the application asks for "the last few days". Two-sided ranges
(``BETWEEN $1 AND $2``, ``col >= $1 AND col < $2``) get DEFAULT_RANGE_INEQ_SEL, 0.5 %, which is
already index-friendly and is left alone. For a one-sided range the parameter is replaced by
the histogram bound that keeps the outer decile of the rows (the 90th percentile for a lower
bound, the 10th for an upper bound): a typical application window, stated as an assumption.

``col LIKE $1`` is worse off: the planner can only turn a constant pattern into an index range,
so a generic plan never uses an index for it. The parameter is replaced by a left-anchored
prefix of a typical value of the column (like_prefix.representative_pattern): the advisor
assumes a LIKE with a parameter is a prefix search, and HypoPG then tells whether an index on
that prefix pays.
"""

from __future__ import annotations

import pglast
from pglast import ast
from pglast.stream import RawStream
from pglast.visitors import Ancestor, Visitor

from perfpilot.database.catalog import Catalog, ColumnStats
from perfpilot.database.like_prefix import representative_pattern
from perfpilot.database.shape import Bound, Predicate, PredicateKind, QueryShape

KEPT_FRACTION = 0.10


def representative_constants(shape: QueryShape, catalog: Catalog) -> dict[int, str]:
    """``$n`` to a constant, for parameters that are the only bound of a range on a column
    with a histogram, and a prefix pattern for ``col LIKE $n`` (OR branches included); empty
    when the generic plan is kept."""
    chosen: dict[int, str] = {}
    branches = [p for d in shape.disjunctions for branch in d.branches for p in branch]
    for predicate in (*shape.predicates, *branches):
        pattern = _pattern(predicate, catalog)
        if predicate.pattern_param is not None and pattern is not None:
            chosen[predicate.pattern_param] = pattern
    for predicate in shape.predicates:
        if predicate.kind is not PredicateKind.RANGE or len(_bounds(shape, predicate)) != 1:
            continue
        bounds = _histogram(predicate, catalog)
        if len(bounds) < 2:
            continue
        for param in predicate.params:
            position = 1 - KEPT_FRACTION if param.bound is Bound.LOWER else KEPT_FRACTION
            chosen[param.number] = bounds[round(position * (len(bounds) - 1))]
    return chosen


def substitute(text: str, constants: dict[int, str]) -> tuple[str, int]:
    """``text`` with the parameters in ``constants`` replaced by literals and the remaining
    ones renumbered from $1; returns the statement and its parameter count."""
    tree = pglast.parse_sql(text)[0].stmt
    if tree is None:
        raise pglast.parser.ParseError("empty statement", 0)
    visitor = _Substitute(constants)
    visitor(tree)
    return str(RawStream()(tree)), len(visitor.renumbered)


def _bounds(shape: QueryShape, predicate: Predicate) -> set[Bound]:
    """Every bound the statement puts on the predicate's key, parameters or not."""
    found: set[Bound] = set()
    for other in shape.predicates:
        if other.key == predicate.key and other.kind is PredicateKind.RANGE:
            found.update(p.bound for p in other.params)
            if not other.params:
                # A range against a constant or an expression: its side is unknown, so the
                # generic plan is not second-guessed.
                found.update(Bound)
    return found


def _histogram(predicate: Predicate, catalog: Catalog) -> tuple[str, ...]:
    stats = _stats(predicate, catalog)
    return stats.histogram_bounds if stats is not None else ()


def _pattern(predicate: Predicate, catalog: Catalog) -> str | None:
    """A prefix pattern for ``col LIKE $n``; None for other predicates or without stats."""
    stats = _stats(predicate, catalog) if predicate.pattern_param is not None else None
    if stats is None:
        return None
    return representative_pattern(stats.histogram_bounds, stats.most_common_vals)


def _stats(predicate: Predicate, catalog: Catalog) -> ColumnStats | None:
    key = predicate.key
    info = catalog.find(key.table) if key.table is not None else None
    return info.stats.get(key.column) if info is not None and key.column else None


class _Substitute(Visitor):
    def __init__(self, constants: dict[int, str]) -> None:
        self.constants = constants
        self.renumbered: dict[int, int] = {}

    def visit_ParamRef(self, ancestors: Ancestor, node: ast.ParamRef) -> ast.Node:
        number = int(node.number or 0)
        if number in self.constants:
            return ast.A_Const(isnull=False, val=ast.String(self.constants[number]))
        if number not in self.renumbered:
            self.renumbered[number] = len(self.renumbered) + 1
        return ast.ParamRef(number=self.renumbered[number])
