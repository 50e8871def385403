"""The verified half of the advisor: baseline costs, candidate sizes and the selection, all
through one HypoPG session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from perfpilot.database.advisor_input import AdvisorInput, ShapedQuery
from perfpilot.database.catalog import Catalog
from perfpilot.database.hypo_oracle import CostedStatement, HypoOracle
from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.representative import representative_constants, substitute
from perfpilot.database.selection import (
    Option,
    QueryCost,
    Selection,
    SelectionPolicy,
    WorkloadItem,
    select_indexes,
)
from perfpilot.database.shape import TableRef
from perfpilot.database.whatif import WhatIf


@dataclass(frozen=True)
class WhatIfOutcome:
    statements: Mapping[str, CostedStatement]  # what was explained, per fingerprint
    baselines: Mapping[str, QueryCost]  # fingerprints costed, without new indexes
    failures: Mapping[str, str]  # fingerprints that could not be explained: error text
    sizes: Mapping[IndexDefinition, int]  # candidates HypoPG accepted: estimated bytes
    refused: Mapping[IndexDefinition, str]  # candidates HypoPG refused: error text
    selection: Selection
    costings: int


def run_whatif(
    prepared: AdvisorInput, catalog: Catalog, whatif: WhatIf, policy: SelectionPolicy
) -> WhatIfOutcome:
    statements: dict[str, CostedStatement] = {}
    oracle = HypoOracle(whatif, statements)
    baselines: dict[str, QueryCost] = {}
    failures: dict[str, str] = {}
    for query in prepared.shaped():
        outcome = _baseline(query, catalog, oracle, statements)
        if isinstance(outcome, QueryCost):
            baselines[query.query.fingerprint] = outcome
        else:
            failures[query.query.fingerprint] = outcome
    sizes = _sizes(prepared.options, oracle)
    workload = [
        WorkloadItem(fp, q.query.calls, statements[fp].tables, baselines[fp])
        for q in prepared.shaped()
        if (fp := q.query.fingerprint) in baselines
    ]
    options = [
        Option(index, sizes[index], tuple(fp for fp in fingerprints if fp in baselines))
        for index, fingerprints in prepared.options.items()
        if index in sizes
    ]
    options += [
        Option(
            group[0],
            sum(sizes[i] for i in group),
            tuple(fp for fp in fingerprints if fp in baselines),
            partners=group[1:],
        )
        for group, fingerprints in prepared.groups.items()
        if all(i in sizes for i in group)
    ]
    selection = select_indexes(workload, options, write_shares(catalog), policy, oracle)
    oracle.clear()
    return WhatIfOutcome(
        statements, baselines, failures, sizes, dict(oracle.failures), selection, whatif.costings
    )


def write_shares(catalog: Catalog) -> dict[TableRef, float]:
    """Per table, index-maintaining tuple writes over writes plus scans (0 without stats)."""
    shares = {}
    for ref, info in catalog.tables.items():
        total = info.index_writes + info.scans
        shares[ref] = info.index_writes / total if total else 0.0
    return shares


def _baseline(
    query: ShapedQuery,
    catalog: Catalog,
    oracle: HypoOracle,
    statements: dict[str, CostedStatement],
) -> QueryCost | str:
    """Cost without new indexes: with representative constants when they apply, else (or
    when the substituted text does not plan) the generic plan. A str is the error text."""
    shape = query.shape
    if shape is None:
        raise ValueError(f"{query.query.fingerprint} has no shape; only shaped queries are costed")
    fingerprint, text = query.query.fingerprint, query.query.text
    tables = frozenset(shape.tables)
    attempts = [CostedStatement(text, shape.param_count, tables, {})]
    constants = representative_constants(shape, catalog)
    if constants:
        substituted, count = substitute(text, constants)
        attempts.insert(0, CostedStatement(substituted, count, tables, constants))
    reason = "the statement could not be explained"
    for statement in attempts:
        statements[fingerprint] = statement
        cost = oracle.cost(fingerprint, frozenset())
        if cost is not None:
            return cost
        reason = oracle.last_failure or reason
    return reason


def _sizes(
    options: Mapping[IndexDefinition, tuple[str, ...]], oracle: HypoOracle
) -> dict[IndexDefinition, int]:
    """Create every candidate once for HypoPG's size estimate; refused ones are left out."""
    sizes = {}
    for index in options:
        created = oracle.add(index)
        if created is not None:
            sizes[index] = created.size_bytes
    oracle.clear()
    return sizes
