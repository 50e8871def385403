"""One loader run per key at a time: in this process by a shared task, across processes by a lease.

N concurrent misses of one key in one process await the same task. Across processes, the
first to ``SET lease NX PX`` loads; the others poll for the value until the lease would have
expired, then load themselves (the holder died or its loader is slower than the lease).
Client-safe: redis-py and the standard library only.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from perfpilot.cache.controlkeys import lease_key

Produce = Callable[[], Awaitable[bytes | None]]
Read = Callable[[], Awaitable[bytes | None]]

# Deletes the lease only if it is still ours: a lease that expired and was taken by another
# process must not be released by the late holder.
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class SingleFlight:
    def __init__(self, redis: aioredis.Redis, lease_ms: int = 5000, poll_s: float = 0.02) -> None:
        self._redis = redis
        self._lease_ms = lease_ms
        self._poll_s = poll_s
        self._inflight: dict[bytes, asyncio.Task[bytes | None]] = {}
        self.loads = 0

    def loading(self, key: bytes) -> bool:
        """Whether a load of ``key`` is running in this process."""
        return key in self._inflight

    async def run(self, key: bytes, produce: Produce, read: Read) -> bytes | None:
        """The value from ``produce`` (run once across callers) or, if another process had the
        lease, the value it stored as seen by ``read``."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._leased(key, produce, read))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # shield: one caller being cancelled must not cancel the load the others wait for.
        return await asyncio.shield(task)

    def _finished(self, key: bytes, task: asyncio.Task[bytes | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            # Marks the exception retrieved when every waiter was cancelled; waiters still
            # awaiting the task get it raised as usual.
            task.exception()

    async def _leased(self, key: bytes, produce: Produce, read: Read) -> bytes | None:
        lease = lease_key(key)
        token = secrets.token_hex(8)
        if not await self._redis.set(lease, token, nx=True, px=self._lease_ms):
            value = await self._wait_for(read)
            if value is not None:
                return value
            token = ""
        try:
            self.loads += 1
            return await produce()
        finally:
            if token:
                await self._redis.eval(_RELEASE, 1, lease, token)

    async def _wait_for(self, read: Read) -> bytes | None:
        deadline = time.monotonic() + self._lease_ms / 1000
        while time.monotonic() < deadline:
            await asyncio.sleep(self._poll_s)
            value = await read()
            if value is not None:
                return value
        return None
