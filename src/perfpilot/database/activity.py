"""How busy the target database is right now: its active client sessions, sampled on a period."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from perfpilot.database.connection import APPLICATION_NAME

logger = logging.getLogger(__name__)

# Client backends of the target database running a statement, other than this one.
ACTIVE_SESSIONS = """/* perfpilot */
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active'
  AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""


class DatabaseActivity:
    """Keeps the latest count of active sessions; None while the database cannot be read."""

    def __init__(self, dsn: str, interval_s: float = 15.0) -> None:
        self._dsn = dsn
        self._interval_s = interval_s
        self.latest: int | None = None

    def read(self) -> int:
        """One reading (blocking)."""
        with psycopg.connect(
            self._dsn, connect_timeout=3, application_name=APPLICATION_NAME, autocommit=True
        ) as conn:
            row = conn.execute(ACTIVE_SESSIONS).fetchone()
        return int(row[0]) if row else 0

    async def run(self) -> None:
        while True:
            try:
                self.latest = await asyncio.to_thread(self.read)
            except psycopg.Error as exc:
                # Unknown, not zero: a database that cannot be read is not a quiet one.
                self.latest = None
                logger.debug("database activity not read: %s", exc)
            await asyncio.sleep(self._interval_s)
