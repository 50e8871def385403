"""One way to run SQL on either backend, so a new table's repository is written once.

Statements are written for PostgreSQL with ``%s`` placeholders and ``{t}`` before each table
name; the dialect turns them into ``?`` and bare names for SQLite, or ``perfpilot.`` names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    table_prefix: str
    placeholder: str
    encode_time: Callable[[datetime], Any]
    decode_time: Callable[[Any], datetime]

    def sql(self, template: str) -> str:
        """The template with table prefixes and this backend's placeholders."""
        return template.format(t=self.table_prefix).replace("%s", self.placeholder)

    def time_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self.decode_time(value)


class SqlRunner(Protocol):
    """Runs statements in short transactions; errors surface as StoreError."""

    @property
    def dialect(self) -> Dialect: ...

    def query(self, action: str, template: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one read statement."""
        ...

    def write(self, action: str, template: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement per parameter row in one transaction; rows affected."""
        ...
