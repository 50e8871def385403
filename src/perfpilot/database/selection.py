"""Choose indexes for the whole workload: greedy by weighted cost saved per byte.

Pure: the only way out is the cost oracle handed in (HypoPG in production, a table in tests).

Each round scores every remaining candidate as

    score = gain / size_bytes * (1 - write_penalty * write_share)
    gain  = sum over its queries q of calls(q) * (cost_now(q) - cost_with(q))

where cost_with(q) is the planner's cost of q with the indexes chosen so far plus the
candidate, counted only when the plan uses the candidate and cuts q's current cost by at least
``min_improvement``; write_share (0..1) is the table's index-maintaining writes over writes plus
scans (a table that is mostly written pays for every index on each write). The best candidate
that fits the per-table limit and the size budget is chosen, replacing a chosen index that is
a prefix of it; a candidate that is a prefix of a chosen index is never taken (it would be the
duplicate index the health checks flag). Then only the queries that touch the chosen index's
table are re-costed, and of those only the ones that use its leading key (the queries it was a
candidate for): no other plan can change.

A query ``WHERE a = $1 OR b = $2`` needs an index on each side before the planner can drop
its sequential scan for a BitmapOr: each index alone gains nothing. Such a pair is one Option
with ``partners``: it is costed, scored (its size is the sum) and chosen as a unit, and it
counts only when the plan uses every member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from perfpilot.database.indexdef import IndexDefinition
from perfpilot.database.shape import TableRef

GIB = 1024**3


class CostOracle(Protocol):
    def cost(self, query: str, indexes: frozenset[IndexDefinition]) -> QueryCost | None:
        """Cost of ``query`` (a fingerprint) with exactly ``indexes`` present; None if it
        cannot be costed."""


@dataclass(frozen=True)
class QueryCost:
    total: float
    used: frozenset[IndexDefinition]


@dataclass(frozen=True)
class WorkloadItem:
    fingerprint: str
    calls: int
    tables: frozenset[TableRef]
    baseline: QueryCost


@dataclass(frozen=True)
class Option:
    """A candidate that HypoPG accepted, with its estimated size and the queries it may help;
    ``partners`` are indexes built with it as a unit (the other branches of an OR), their
    sizes included in ``size_bytes``."""

    index: IndexDefinition
    size_bytes: int
    queries: tuple[str, ...]
    partners: tuple[IndexDefinition, ...] = ()

    @property
    def indexes(self) -> frozenset[IndexDefinition]:
        return frozenset({self.index, *self.partners})


Members = frozenset[IndexDefinition]  # an Option's indexes: the key of its costs and gains


@dataclass(frozen=True)
class SelectionPolicy:
    """Limits of one advisor run. Defaults: at most 5 new indexes per table (beyond that, write
    cost and planner choice time grow faster than the benefit on OLTP tables); 1 GiB of new
    indexes in total (an operator's ceiling, to be sized to the disk); a fully write-only table
    halves a candidate's score; a candidate counts for a query only when it cuts that query's
    current planner cost by 10 % or more (smaller differences are within estimate noise)."""

    max_new_per_table: int = 5
    budget_bytes: int = GIB
    write_penalty: float = 0.5
    min_improvement: float = 0.1


@dataclass(frozen=True)
class Selection:
    chosen: tuple[Option, ...]
    final: Mapping[str, QueryCost]  # every workload query, with the chosen indexes present
    rounds: int


def select_indexes(
    workload: Sequence[WorkloadItem],
    options: Sequence[Option],
    write_share: Mapping[TableRef, float],
    policy: SelectionPolicy,
    oracle: CostOracle,
) -> Selection:
    items = {w.fingerprint: w for w in workload}
    current = {w.fingerprint: w.baseline for w in workload}
    chosen: list[Option] = []
    # Cost of a query with the chosen indexes plus one candidate, per (candidate, query).
    with_option: dict[tuple[Members, str], QueryCost | None] = {}
    stale = {(o.indexes, fp) for o in options for fp in o.queries}
    rounds = 0
    while True:
        rounds += 1
        present = _present(chosen)
        for members, fingerprint in sorted(
            stale, key=lambda pair: (sorted(map(str, pair[0])), pair[1])
        ):
            with_option[members, fingerprint] = oracle.cost(fingerprint, members | present)
        gains = {o.indexes: _gain(o, with_option, current, items, policy) for o in options}
        best = _best(options, chosen, gains, write_share, policy)
        if best is None:
            break
        replaced = [o for o in chosen if _redundant(o, [best])]
        chosen = [o for o in chosen if o not in replaced] + [best]
        current.update(gains[best.indexes][1])
        if replaced:
            _recost_users(replaced, chosen, current, items, oracle)
        stale = _stale(best, options, chosen)
    indexes = _present(chosen)
    final = {fp: _final(items[fp], indexes, current[fp], oracle) for fp in current}
    return Selection(tuple(chosen), final, rounds)


def _present(chosen: Sequence[Option]) -> frozenset[IndexDefinition]:
    return frozenset(i for o in chosen for i in o.indexes)


def _stale(
    best: Option, options: Sequence[Option], chosen: list[Option]
) -> set[tuple[Members, str]]:
    """The (candidate, query) pairs whose cost the new index can change: queries that use its
    leading key (all on its table). Every other plan stays as it was."""
    touched = set(best.queries)
    return {
        (o.indexes, fp) for o in options if o not in chosen for fp in o.queries if fp in touched
    }


def _gain(
    option: Option,
    with_option: Mapping[tuple[Members, str], QueryCost | None],
    current: Mapping[str, QueryCost],
    items: Mapping[str, WorkloadItem],
    policy: SelectionPolicy,
) -> tuple[float, dict[str, QueryCost]]:
    gain, improved = 0.0, {}
    for fingerprint in option.queries:
        cost = with_option.get((option.indexes, fingerprint))
        now = current[fingerprint].total
        # A pair counts only when the plan uses both: otherwise its single member is cheaper.
        if cost is None or not option.indexes <= cost.used:
            continue
        if cost.total <= now * (1 - policy.min_improvement):
            gain += items[fingerprint].calls * (now - cost.total)
            improved[fingerprint] = cost
    return gain, improved


def _best(
    options: Sequence[Option],
    chosen: list[Option],
    gains: Mapping[Members, tuple[float, dict[str, QueryCost]]],
    write_share: Mapping[TableRef, float],
    policy: SelectionPolicy,
) -> Option | None:
    best, best_score = None, 0.0
    for option in options:
        table = option.index.table
        # A chosen index that is a prefix of this option would be replaced by it, so it
        # counts against neither the per-table limit nor the budget.
        kept = [o for o in chosen if not _redundant(o, [option])]
        new = option.indexes - _present(chosen)
        if (
            not new
            or _redundant(option, chosen)
            or sum(len(o.indexes) for o in kept if o.index.table == table) + len(new)
            > policy.max_new_per_table
            or sum(o.size_bytes for o in kept) + option.size_bytes > policy.budget_bytes
        ):
            continue
        penalty = 1 - policy.write_penalty * write_share.get(table, 0.0)
        score = gains[option.indexes][0] / max(option.size_bytes, 1) * penalty
        # Ties go to the first option, so the result does not depend on dict order.
        if score > best_score:
            best, best_score = option, score
    return best


def _recost_users(
    replaced: list[Option],
    chosen: list[Option],
    current: dict[str, QueryCost],
    items: Mapping[str, WorkloadItem],
    oracle: CostOracle,
) -> None:
    """Queries whose current plan used a replaced index get their cost with the new set."""
    gone = _present(replaced)
    indexes = _present(chosen)
    for fingerprint, cost in list(current.items()):
        if cost.used & gone:
            current[fingerprint] = oracle.cost(fingerprint, indexes) or items[fingerprint].baseline


def _redundant(option: Option, chosen: list[Option]) -> bool:
    """Whether another single index of ``chosen`` starts with all of ``option``'s keys (pairs
    neither replace nor are replaced: each member serves its own OR branch)."""
    keys = option.index.keys
    return any(
        other is not option
        and not option.partners
        and not other.partners
        and other.index.table == option.index.table
        and len(other.index.keys) > len(keys)
        and other.index.keys[: len(keys)] == keys
        for other in chosen
    )


def _final(
    item: WorkloadItem,
    indexes: frozenset[IndexDefinition],
    current: QueryCost,
    oracle: CostOracle,
) -> QueryCost:
    """The query's cost with the final set; re-costed only when it touches a chosen table."""
    relevant = frozenset(i for i in indexes if i.table in item.tables)
    if not relevant:
        return item.baseline
    return oracle.cost(item.fingerprint, relevant) or current
