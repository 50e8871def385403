"""The application's side of preloading: read requests from the stream, run its own loaders.

The service never writes cache values itself: it asks, through ``perfpilot:preload:requests``,
and the application's registered loader produces the value, stored through the client (so it
is compressed and gets the namespace's TTL). Each key's outcome and time go back on
``perfpilot:preload:results``. Client-safe: redis-py and the standard library only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import redis.asyncio as aioredis

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.client import CacheClient

logger = logging.getLogger(__name__)

RESULTS_MAXLEN = 10_000


class PreloadConsumer:
    """One consumer of the preload group; several application processes share the work."""

    def __init__(self, client: CacheClient, consumer: str = "", block_ms: int = 1000) -> None:
        self._client = client
        self._redis = client.redis
        self._consumer = consumer or client.client_id
        self._block_ms = block_ms
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(
                ck.PRELOAD_REQUESTS, ck.PRELOAD_GROUP, id="$", mkstream=True
            )
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def drain_once(self, count: int = 100, block_ms: int | None = None) -> int:
        """Handle up to ``count`` pending requests; the number handled."""
        await self._ensure_group()
        reply = await self._redis.xreadgroup(
            ck.PRELOAD_GROUP,
            self._consumer,
            {ck.PRELOAD_REQUESTS: ">"},
            count=count,
            block=self._block_ms if block_ms is None else block_ms,
        )
        replies = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or [])
        handled = 0
        for _stream, messages in replies:
            for message_id, fields in messages:
                await self._handle(message_id, fields)
                handled += 1
        return handled

    async def _handle(self, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        key = fields.get(b"key", b"")
        request = fields.get(b"request", b"")
        started = time.perf_counter()
        loader = self._client.loader_for(key)
        if loader is None:
            outcome = "no_loader"
        else:
            try:
                value = await loader(key)
            except Exception as exc:  # noqa: BLE001 - the app's loader: any failure is reported back
                logger.warning("preload of %r failed: %s", key, exc)
                outcome = f"failed: {type(exc).__name__}"
            else:
                if value is None:
                    outcome = "not_found"
                else:
                    await self._client.set(key, value)
                    outcome = "warmed"
        elapsed_ms = (time.perf_counter() - started) * 1000
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(
            ck.PRELOAD_RESULTS,
            {b"request": request, b"key": key, b"outcome": outcome, b"ms": f"{elapsed_ms:.3f}"},
            maxlen=RESULTS_MAXLEN,
            approximate=True,
        )
        pipe.xack(ck.PRELOAD_REQUESTS, ck.PRELOAD_GROUP, message_id)
        await pipe.execute()

    async def run(self) -> None:
        """Consume until cancelled; a Redis error is logged and retried after a pause."""
        while True:
            try:
                await self.drain_once()
            except aioredis.ConnectionError as exc:
                logger.warning("preload consumer: Redis unavailable (%s); retrying", exc)
                self._group_ready = False
                await asyncio.sleep(1.0)
