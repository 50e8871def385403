"""Generic traversal of pglast parse trees."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast


def walk(node: object) -> Iterator[ast.Node]:
    """``node`` and its descendants, not entering subqueries (they have their own scope)."""
    if isinstance(node, ast.Node):
        yield node
        if isinstance(node, ast.SubLink | ast.SelectStmt):
            return
        for name in node:
            yield from walk(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from walk(item)


def children(node: object) -> Iterator[ast.Node]:
    """The direct child nodes of ``node`` (a node, or a tuple/list of them)."""
    if isinstance(node, ast.Node):
        for name in node:
            yield from _nodes_in(getattr(node, name))
    else:
        yield from _nodes_in(node)


def _nodes_in(value: object) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _nodes_in(item)


def outer_sublinks(node: object) -> Iterator[ast.SubLink]:
    """Subqueries inside an expression, not those nested in another subquery."""
    for child in children(node):
        if isinstance(child, ast.SubLink):
            yield child
        elif not isinstance(child, ast.SelectStmt):
            yield from outer_sublinks(child)


def max_param(node: object) -> int:
    """The highest ``$n`` in the tree: the parameter count of a normalized statement."""
    if isinstance(node, ast.ParamRef):
        return int(node.number or 0)
    return max((max_param(child) for child in children(node)), default=0)
