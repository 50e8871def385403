"""The selection's cost oracle, backed by HypoPG: keeps exactly the asked-for hypothetical
indexes on a query's tables, then explains the query."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.selection import QueryCost
from perfpilot.database.shape import TableRef
from perfpilot.database.whatif import Hypothetical, WhatIf, WhatIfFailure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CostedStatement:
    """The text actually explained for a fingerprint (maybe with representative constants)."""

    text: str
    param_count: int
    tables: frozenset[TableRef]
    constants: Mapping[int, str]


class HypoOracle:
    def __init__(self, whatif: WhatIf, statements: Mapping[str, CostedStatement]) -> None:
        self.whatif = whatif
        self.statements = statements
        self.present: dict[IndexDefinition, Hypothetical] = {}
        self.failures: dict[IndexDefinition, str] = {}
        self.last_failure: str | None = None

    def cost(self, query: str, indexes: frozenset[IndexDefinition]) -> QueryCost | None:
        statement = self.statements[query]
        wanted = {i for i in indexes if i.table in statement.tables}
        for index in [i for i in self.present if i.table in statement.tables]:
            if index not in wanted:
                self.whatif.drop(self.present.pop(index))
        for index in sorted(wanted - self.present.keys(), key=str):
            if self.add(index) is None:
                self.last_failure = self.failures[index]
                return None
        result = self.whatif.cost(statement.text, statement.param_count)
        if isinstance(result, WhatIfFailure):
            logger.debug("what-if costing of %s failed: %s", query, result.reason)
            self.last_failure = result.reason
            return None
        names = {h.name: i for i, h in self.present.items()}
        return QueryCost(result.total, frozenset(names[n] for n in result.used if n in names))

    def add(self, index: IndexDefinition) -> Hypothetical | None:
        """Create ``index`` hypothetically; None (reason kept in ``failures``) if refused."""
        created = self.whatif.create(index)
        if isinstance(created, WhatIfFailure):
            self.failures[index] = created.reason
            return None
        self.present[index] = created
        return created

    def clear(self) -> None:
        self.whatif.reset()
        self.present.clear()
