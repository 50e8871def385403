"""Pick the store backend from ``PERFORMANCE_STORE_URL``."""

from __future__ import annotations

from perfpilot.core.errors import ConfigError
from perfpilot.core.urls import redact_url
from perfpilot.store.base import Store
from perfpilot.store.postgres import PostgresStore
from perfpilot.store.sqlite import SqliteStore

ENV_NAME = "PERFORMANCE_STORE_URL"
# SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


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
        raise ConfigError(f"{ENV_NAME}={redact_url(url)!r}: {exc}") from exc
    raise ConfigError(
        f"{ENV_NAME}={redact_url(url)!r}: unsupported store URL; expected sqlite:///PATH,"
        " postgresql://... or postgres://..."
    )


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL store (else SQLite)."""
    return url.startswith(_POSTGRES_SCHEMES)
