"""Pick the store backend from ``PERFORMANCE_STORE_URL``."""

from __future__ import annotations

import re

from perfpilot.core.errors import ConfigError
from perfpilot.store.base import Store
from perfpilot.store.postgres import PostgresStore
from perfpilot.store.sqlite import SqliteStore

ENV_NAME = "PERFORMANCE_STORE_URL"
# SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


def open_store(url: str) -> Store:
    """Open (but do not migrate) the store at ``url``; ConfigError names a bad URL.

    Call ``migrate()`` before first use; it is cheap when the schema is current.
    """
    try:
        if url.startswith(_SQLITE_PREFIX):
            return SqliteStore(url.removeprefix(_SQLITE_PREFIX))
        if url.startswith(_POSTGRES_SCHEMES):
            return PostgresStore(url)
    except ValueError as exc:
        raise ConfigError(f"{ENV_NAME}={redact(url)!r}: {exc}") from exc
    raise ConfigError(
        f"{ENV_NAME}={redact(url)!r}: unsupported store URL; expected sqlite:///PATH,"
        " postgresql://... or postgres://..."
    )


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL store (else SQLite)."""
    return url.startswith(_POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    return _PASSWORD.sub(r"\1:***@", url)
