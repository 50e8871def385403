"""Reaching the target Redis."""

from __future__ import annotations

import redis.asyncio as aioredis

CLIENT_NAME = "perfpilot"


async def check_redis(url: str, timeout_s: float = 3.0) -> str:
    """PING the server and return its version string."""
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, client_name=CLIENT_NAME
    )
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    return f"Redis {info.get('redis_version', 'version unknown')}"
