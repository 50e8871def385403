"""Reaching the target PostgreSQL."""

from __future__ import annotations

import psycopg

# perfpilot's own sessions carry this name so workload analysis can leave them out.
APPLICATION_NAME = "perfpilot"


async def check_postgres(dsn: str, connect_timeout_s: int = 3) -> str:
    """Connect, run a trivial query and return the server version string."""
    async with await psycopg.AsyncConnection.connect(
        dsn, connect_timeout=connect_timeout_s, application_name=APPLICATION_NAME, autocommit=True
    ) as conn:
        cur = await conn.execute("SHOW server_version")
        row = await cur.fetchone()
    return f"PostgreSQL {row[0]}" if row else "PostgreSQL (version unknown)"
