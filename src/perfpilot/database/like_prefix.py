"""``col LIKE 'abc%'``: when a btree can serve it, with which operator class, and which
pattern stands for ``col LIKE $1`` when the advisor costs it.

The planner turns a left-anchored pattern into the range ``col >= 'abc' AND col < 'abd'``,
but only on an index whose ordering is byte-wise: the C (or POSIX) collation, or one of the
``*_pattern_ops`` operator classes under any other collation
(https://www.postgresql.org/docs/current/indexes-opclass.html,
https://www.postgresql.org/docs/current/indexes-types.html#INDEXES-TYPES-BTREE).
"""

from __future__ import annotations

from collections.abc import Sequence

from perfpilot.database.catalog import ColumnType
from perfpilot.database.indexdef import IndexKey

# Base type (pg_type.typname) to its pattern operator class; other types get no candidate.
PATTERN_OPCLASSES = {
    "text": "text_pattern_ops",
    "varchar": "varchar_pattern_ops",
    "bpchar": "bpchar_pattern_ops",
}
WILDCARDS = ("%", "_")
# An assumption, stated like KEPT_FRACTION in representative.py: a prefix search (typically
# autocomplete) is sent after a few typed characters; 3 of a typical value stands for it.
REPRESENTATIVE_PREFIX_CHARS = 3


def left_anchored(pattern: str) -> bool:
    """Whether ``pattern`` starts with a literal character, so a btree range can serve it."""
    return bool(pattern) and not pattern.startswith(WILDCARDS)


def prefix_key(column: str, column_type: ColumnType | None) -> IndexKey | None:
    """The btree key that serves ``column LIKE 'abc%'``: plain under a C collation, with the
    type's pattern operator class otherwise; None for a type without one (or unknown)."""
    if column_type is None or column_type.type_name not in PATTERN_OPCLASSES:
        return None
    if column_type.c_collation:
        return IndexKey(column)
    return IndexKey(column, opclass=PATTERN_OPCLASSES[column_type.type_name])


def representative_pattern(histogram: Sequence[str], common: Sequence[str]) -> str | None:
    """``'abc%'`` from a typical value of the column (the histogram's median bound, else its
    most common value), its LIKE wildcards escaped; None when pg_stats has no value."""
    values = [v for v in (_median(histogram), *common[:1]) if v]
    if not values:
        return None
    return _escaped(values[0][:REPRESENTATIVE_PREFIX_CHARS]) + "%"


def _median(values: Sequence[str]) -> str | None:
    return values[len(values) // 2] if values else None


def _escaped(text: str) -> str:
    """``text`` as a literal LIKE prefix; backslash is LIKE's default escape character."""
    for special in ("\\", *WILDCARDS):
        text = text.replace(special, "\\" + special)
    return text
