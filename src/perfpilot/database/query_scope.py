"""Name resolution while walking a statement: what each FROM alias and CTE name stands for."""

from __future__ import annotations

from dataclasses import dataclass, field

from perfpilot.database.shape import Key, TableRef


@dataclass
class Source:
    """A FROM item: a base table, or a derived relation (subquery, CTE, view) whose output
    columns map to base-table keys where they are plain columns or expressions of one table."""

    table: TableRef | None = None
    outputs: dict[str, Key] = field(default_factory=dict)
    star: TableRef | None = None

    def column(self, name: str) -> Key | None:
        """The base key behind ``name``, or None when the source does not expose it simply."""
        if self.table is not None:
            return Key(self.table, name)
        if name in self.outputs:
            return self.outputs[name]
        return Key(self.star, name) if self.star is not None else None


@dataclass
class Scope:
    """The FROM items and CTEs visible at one query level; ``parent`` is the enclosing level."""

    parent: Scope | None
    sources: dict[str, Source] = field(default_factory=dict)
    ctes: dict[str, Source] = field(default_factory=dict)

    def cte(self, name: str) -> Source | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.ctes[name]
            scope = scope.parent
        return None

    def source(self, alias: str) -> Source | None:
        scope: Scope | None = self
        while scope is not None:
            if alias in scope.sources:
                return scope.sources[alias]
            scope = scope.parent
        return None

    def column(self, names: list[str]) -> Key | None:
        """Resolve a (possibly qualified) column reference to a base-table key."""
        if len(names) >= 2:
            source = self.source(names[-2])
            return source.column(names[-1]) if source is not None else None
        return self._unqualified(names[0])

    def _unqualified(self, name: str) -> Key | None:
        scope: Scope | None = self
        while scope is not None:
            for source in scope.sources.values():
                if source.table is None and name in source.outputs:
                    return source.outputs[name]
            tables = scope.tables()
            if len(tables) == 1:
                return Key(tables[0], name)
            if tables:
                # Which table has the column is for the catalog step to decide.
                return Key(None, name, scope=tuple(tables))
            scope = scope.parent
        return None

    def tables(self) -> list[TableRef]:
        """Base tables at this level, each once (a self-join lists its table once)."""
        found: list[TableRef] = []
        for source in self.sources.values():
            table = source.table or source.star
            if table is not None and table not in found:
                found.append(table)
        return found
