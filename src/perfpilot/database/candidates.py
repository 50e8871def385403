"""Index candidates for one resolved query: single columns, composites and expressions."""

from __future__ import annotations

from dataclasses import dataclass

from perfpilot.database.catalog import Catalog, ExistingIndex, TableInfo
from perfpilot.database.indexdef import IndexDefinition, IndexKey
from perfpilot.database.like_prefix import prefix_key
from perfpilot.database.shape import (
    Disjunction,
    Key,
    Ordering,
    PredicateKind,
    QueryShape,
    StatementKind,
    TableRef,
)

MIB = 1024 * 1024
INDEXABLE_KINDS = frozenset({"table", "materialized view"})


@dataclass(frozen=True)
class CandidatePolicy:
    """Which tables and how wide.

    A table is below the size floor when it has fewer than ``min_rows`` rows AND takes less
    than ``min_bytes`` (10,000 rows / 1 MiB by default): such a table is a handful of pages,
    a sequential scan of it costs about as much as an index descent, and every index on it
    is pure write overhead. Both must be small, so a few wide rows still count as big.
    """

    min_rows: float = 10_000
    min_bytes: int = MIB
    max_equality_keys: int = 3


@dataclass(frozen=True)
class TableSkip:
    table: TableRef
    reason: str


@dataclass(frozen=True)
class QueryCandidates:
    indexes: tuple[IndexDefinition, ...]
    skipped: tuple[TableSkip, ...]
    covered: tuple[IndexDefinition, ...]  # left out: an existing index starts with these keys
    # One index per branch of an OR, to be costed together (each is also a single candidate).
    groups: tuple[tuple[IndexDefinition, ...], ...] = ()


def query_candidates(
    shape: QueryShape, catalog: Catalog, policy: CandidatePolicy
) -> QueryCandidates:
    """Candidates for a resolved ``shape``: per table, equality keys first (most selective
    first), then one range or sort key; none that an existing valid index covers as a prefix.
    Each OR gives one single-key index per branch, grouped when two or more are new."""
    indexes: list[IndexDefinition] = []
    skipped: list[TableSkip] = []
    already: list[IndexDefinition] = []
    groups: list[tuple[IndexDefinition, ...]] = []
    for table in shape.tables:
        info = catalog.find(table)
        if info is None:
            continue
        reason = skip_reason(info, policy)
        if reason is not None:
            skipped.append(TableSkip(table, reason))
            continue
        for keys in _key_lists(shape, info, policy):
            index = IndexDefinition(table, keys)
            if index in indexes or index in already:
                continue
            (already if covered(index, info) else indexes).append(index)
        for disjunction in shape.disjunctions:
            members = _branch_indexes(disjunction, info)
            new = [i for i in members if not covered(i, info)]
            indexes += [i for i in new if i not in indexes]
            already += [i for i in members if i not in new and i not in already]
            if len(new) > 1 and tuple(new) not in groups:
                groups.append(tuple(new))
    return QueryCandidates(tuple(indexes), tuple(skipped), tuple(already), tuple(groups))


def skip_reason(info: TableInfo, policy: CandidatePolicy) -> str | None:
    """Why no index is proposed on ``info`` at all, or None."""
    if info.kind not in INDEXABLE_KINDS:
        return f"{info.ref} is a {info.kind}: HypoPG cannot cost indexes on it"
    rows = info.rows if info.rows is not None else 0.0
    if rows < policy.min_rows and info.size_bytes < policy.min_bytes:
        return (
            f"{info.ref} has {rows:.0f} rows in {info.size_bytes} bytes, below the size floor "
            f"({policy.min_rows:.0f} rows or {policy.min_bytes} bytes): a scan of it is cheap"
        )
    return None


def covered(index: IndexDefinition, info: TableInfo) -> bool:
    """Whether a valid, non-partial btree index of ``info`` starts with ``index``'s keys, each
    in the same operator class: a default-class key cannot serve ``LIKE 'abc%'`` under a
    non-C collation, and a ``text_pattern_ops`` key serves no ``<`` or ORDER BY."""
    return any(
        existing.valid
        and not existing.partial
        and existing.method == "btree"
        and _starts_with(existing, index.keys)
        for existing in info.indexes
    )


def _starts_with(existing: ExistingIndex, keys: tuple[IndexKey, ...]) -> bool:
    return len(existing.keys) >= len(keys) and all(
        existing.keys[i] == key.label and existing.opclass(i) == key.opclass
        for i, key in enumerate(keys)
    )


def relevant(index: IndexDefinition, shape: QueryShape) -> bool:
    """Whether ``shape`` uses the leading key of ``index``: without it a btree cannot help."""
    leading = index.keys[0].label
    return any(k.label == leading for k in shape.keys_of(index.table))


def _key_lists(
    shape: QueryShape, info: TableInfo, policy: CandidatePolicy
) -> list[tuple[IndexKey, ...]]:
    equal = _by_selectivity(_keys(shape, info.ref, equality=True), info)
    ranges = _keys(shape, info.ref, equality=False) + _prefix_keys(shape, info)
    orderings = [_sort_keys(o, equal) for o in shape.orderings if o.table() == info.ref]
    head = tuple(equal[: policy.max_equality_keys])
    lists: list[tuple[IndexKey, ...]] = [(k,) for k in (*equal, *ranges)]
    lists += [o[:1] for o in orderings if o]
    if len(head) > 1:
        lists.append(head)
    lists += [(*head, r) for r in ranges if head]
    lists += [(*head, *o) for o in orderings if o and (head or len(o) > 1)]
    return [keys for keys in lists if keys]


def _branch_indexes(disjunction: Disjunction, info: TableInfo) -> tuple[IndexDefinition, ...]:
    """One single-key index per OR branch (its most selective equality key, else its first
    prefix or range key); none when a branch has no key of ``info``. Branches on the same
    key share one index."""
    found: list[IndexDefinition] = []
    for predicates in disjunction.branches:
        branch = QueryShape(StatementKind.SELECT, (info.ref,), predicates)
        keys = _by_selectivity(_keys(branch, info.ref, equality=True), info)
        keys += _prefix_keys(branch, info) + _keys(branch, info.ref, equality=False)
        if not keys:
            return ()
        index = IndexDefinition(info.ref, (keys[0],))
        if index not in found:
            found.append(index)
    return tuple(found)


def _keys(shape: QueryShape, table: TableRef, equality: bool) -> list[IndexKey]:
    keys: list[IndexKey] = []
    for predicate in shape.predicates:
        if (
            predicate.key.table == table
            and predicate.kind is not PredicateKind.PREFIX
            and predicate.kind.equality_like == equality
        ):
            key = _index_key(predicate.key)
            if key not in keys:
                keys.append(key)
    return keys


def _prefix_keys(shape: QueryShape, info: TableInfo) -> list[IndexKey]:
    """Keys for ``col LIKE 'abc%'`` on plain columns of a type with a pattern operator class;
    an expression's type and collation are unknown here, so it gets none."""
    keys: list[IndexKey] = []
    for predicate in shape.predicates:
        column = predicate.key.column
        if predicate.key.table != info.ref or predicate.kind is not PredicateKind.PREFIX:
            continue
        key = prefix_key(column, info.column_types.get(column)) if column else None
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def _sort_keys(ordering: Ordering, equal: list[IndexKey]) -> tuple[IndexKey, ...]:
    """The ordering as index keys; columns fixed by equality do not change the order. A btree
    is read backwards as easily as forwards, so only mixed directions are kept."""
    sorts = [s for s in ordering.keys if _index_key(s.key) not in equal]
    mixed = len({s.descending for s in sorts}) > 1
    flip = mixed and sorts[0].descending
    return tuple(_index_key(s.key, descending=mixed and s.descending != flip) for s in sorts)


def _by_selectivity(keys: list[IndexKey], info: TableInfo) -> list[IndexKey]:
    """Most distinct values first; keys without statistics keep their order after those."""
    rows = info.rows or 0.0

    def distinct(key: IndexKey) -> float:
        stats = info.stats.get(key.column or "")
        if stats is None:
            return 0.0
        return -stats.n_distinct * rows if stats.n_distinct < 0 else stats.n_distinct

    return sorted(keys, key=lambda k: -distinct(k))


def _index_key(key: Key, descending: bool = False) -> IndexKey:
    return IndexKey(key.column, key.expression, descending)
