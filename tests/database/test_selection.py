"""Greedy workload-wide index selection against a table of costs (the oracle interface)."""

from __future__ import annotations

from perfpilot.database.indexdef import IndexDefinition, IndexKey
from perfpilot.database.selection import (
    Option,
    QueryCost,
    SelectionPolicy,
    WorkloadItem,
    select_indexes,
)
from perfpilot.database.shape import TableRef

A, B = TableRef("public", "a"), TableRef("public", "b")


def index(table: TableRef, *columns: str) -> IndexDefinition:
    return IndexDefinition(table, tuple(IndexKey(c) for c in columns))


A_X, A_XY, A_Z, B_X = index(A, "x"), index(A, "x", "y"), index(A, "z"), index(B, "x")


class TableOracle:
    """Cost of a query = the cheapest listed cost among the present indexes it can use."""

    def __init__(
        self, base: dict[str, float], with_index: dict[tuple[str, IndexDefinition], float]
    ):
        self.base = base
        self.with_index = with_index
        self.calls: list[tuple[str, frozenset[IndexDefinition]]] = []

    def cost(self, query: str, indexes: frozenset[IndexDefinition]) -> QueryCost | None:
        self.calls.append((query, indexes))
        best, used = self.base[query], frozenset[IndexDefinition]()
        for present in indexes:
            cost = self.with_index.get((query, present))
            if cost is not None and cost < best:
                best, used = cost, frozenset({present})
        return QueryCost(best, used)


def item(name: str, calls: int, base: float, table: TableRef = A) -> WorkloadItem:
    return WorkloadItem(name, calls, frozenset({table}), QueryCost(base, frozenset()))


def test_composite_replaces_its_prefix_and_unhelpful_candidates_are_left_out() -> None:
    oracle = TableOracle(
        {"q1": 1000, "q2": 1000},
        {("q1", A_X): 100, ("q2", A_X): 100, ("q2", A_XY): 5, ("q1", A_XY): 101, ("q1", A_Z): 990},
    )
    options = [
        Option(A_X, 100, ("q1", "q2")),
        Option(A_XY, 150, ("q1", "q2")),
        Option(A_Z, 10, ("q1",)),
    ]
    selection = select_indexes(
        [item("q1", 10, 1000), item("q2", 10, 1000)], options, {}, SelectionPolicy(), oracle
    )
    assert [o.index for o in selection.chosen] == [A_XY]
    assert selection.final["q2"].total == 5
    assert selection.final["q1"].total == 101


def test_budget_and_per_table_limit_hold() -> None:
    oracle = TableOracle({"q1": 1000, "q2": 1000}, {("q1", A_X): 10, ("q2", A_Z): 10})
    options = [Option(A_X, 100, ("q1",)), Option(A_Z, 100, ("q2",))]
    workload = [item("q1", 10, 1000), item("q2", 5, 1000)]
    one_per_table = select_indexes(
        workload, options, {}, SelectionPolicy(max_new_per_table=1), oracle
    )
    assert [o.index for o in one_per_table.chosen] == [A_X]
    tight = select_indexes(workload, options, {}, SelectionPolicy(budget_bytes=150), oracle)
    assert [o.index for o in tight.chosen] == [A_X]


def test_write_heavy_table_loses_to_an_equal_gain_elsewhere() -> None:
    oracle = TableOracle({"qa": 1000, "qb": 1000}, {("qa", A_X): 10, ("qb", B_X): 10})
    options = [Option(A_X, 100, ("qa",)), Option(B_X, 100, ("qb",))]
    workload = [item("qa", 10, 1000), item("qb", 10, 1000, B)]
    selection = select_indexes(
        workload,
        options,
        {A: 0.9, B: 0.0},
        SelectionPolicy(max_new_per_table=1, budget_bytes=100),
        oracle,
    )
    assert [o.index for o in selection.chosen] == [B_X]


def test_only_queries_on_the_chosen_table_are_recosted() -> None:
    oracle = TableOracle({"qa": 1000, "qb": 1000}, {("qa", A_X): 10, ("qb", B_X): 500})
    options = [Option(A_X, 100, ("qa",)), Option(B_X, 100, ("qb",))]
    select_indexes(
        [item("qa", 10, 1000), item("qb", 10, 1000, B)], options, {}, SelectionPolicy(), oracle
    )
    first_round = oracle.calls[:2]
    assert {q for q, _ in first_round} == {"qa", "qb"}
    # Round two, after A_X is chosen: B_X's query does not touch table a, so only the final
    # costing runs for it.
    assert sum(1 for q, _ in oracle.calls if q == "qb") == 2


def test_a_prefix_of_a_chosen_index_is_not_added() -> None:
    # A_XY is chosen first (bigger gain per byte); A_X alone would still save a little on q1.
    oracle = TableOracle(
        {"q1": 1000, "q2": 1000},
        {("q1", A_XY): 100, ("q2", A_XY): 10, ("q1", A_X): 80},
    )
    options = [Option(A_XY, 100, ("q1", "q2")), Option(A_X, 90, ("q1",))]
    selection = select_indexes(
        [item("q1", 10, 1000), item("q2", 10, 1000)], options, {}, SelectionPolicy(), oracle
    )
    assert [o.index for o in selection.chosen] == [A_XY]


class PairOracle:
    """q costs 1000 unless both A_X and A_Z are present (a BitmapOr of the two): then 50."""

    def cost(self, query: str, indexes: frozenset[IndexDefinition]) -> QueryCost | None:
        if {A_X, A_Z} <= indexes:
            return QueryCost(50, frozenset({A_X, A_Z}))
        return QueryCost(1000, frozenset())


def test_a_pair_useless_alone_is_chosen_together() -> None:
    singles = [Option(A_X, 100, ("q",)), Option(A_Z, 100, ("q",))]
    pair = Option(A_X, 200, ("q",), partners=(A_Z,))
    workload = [item("q", 10, 1000)]
    alone = select_indexes(workload, singles, {}, SelectionPolicy(), PairOracle())
    assert alone.chosen == ()
    together = select_indexes(workload, [*singles, pair], {}, SelectionPolicy(), PairOracle())
    assert together.chosen == (pair,)
    assert together.final["q"].total == 50
    # Two new indexes on one table: a limit of one leaves the pair out.
    limited = SelectionPolicy(max_new_per_table=1)
    assert select_indexes(workload, [pair], {}, limited, PairOracle()).chosen == ()
