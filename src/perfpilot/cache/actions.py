"""The Cache Optimizer's writes: TTL policy, key expiries, compression rewrites, preload requests.

Each function checks every key against the managed scope right before writing it, whatever
the plan said, and reports what it measured. None of them runs CONFIG SET.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.codec import Codec, is_compressed
from perfpilot.cache.plan import KeyExpiry
from perfpilot.cache.scope import ManagedScope
from perfpilot.cache.ttlpolicy import TtlPolicy


@dataclass(frozen=True, slots=True)
class CompressionResult:
    rewritten: int
    skipped: int
    bytes_before: int
    bytes_after: int
    own_hits: int
    own_misses: int


@dataclass(frozen=True, slots=True)
class PreloadResult:
    requested: int
    outcomes: dict[str, int]
    pending: int
    duration_s: float
    loader_ms_mean: float | None
    own_hits: int


_RESULTS = "perfpilot-results"


async def publish_policy(client: aioredis.Redis, namespace: bytes, policy: TtlPolicy) -> None:
    """The policy clients read on their next flush (our own control key, not an app key)."""
    await client.hset(ck.TTL_POLICY, namespace, policy.encode())


async def apply_expiries(
    client: aioredis.Redis, scope: ManagedScope, expiries: Sequence[KeyExpiry]
) -> int:
    """PEXPIRE each key with its NX/GT/LT guard; the number whose TTL changed."""
    for e in expiries:
        scope.require(e.key)
    async with client.pipeline(transaction=False) as pipe:
        for e in expiries:
            pipe.execute_command("PEXPIRE", e.key, e.ttl_ms, e.mode)
        replies = await pipe.execute()
    return sum(1 for r in replies if r == 1)


async def compress_values(
    client: aioredis.Redis, scope: ManagedScope, codec: Codec, keys: Sequence[bytes]
) -> CompressionResult:
    """Rewrite each value compressed, atomically and keeping its TTL.

    WATCH + GET, compress here, then MULTI/SET KEEPTTL/EXEC: if the application writes the key
    in between, EXEC aborts and the key is skipped, so no newer value is ever overwritten. The
    work runs in Python, so Redis is never blocked compressing a large value.
    """
    rewritten = skipped = before = after = hits = misses = 0
    for key in keys:
        scope.require(key)
        async with client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                stored = cast(bytes | None, await pipe.get(key))
                hits, misses = hits + (stored is not None), misses + (stored is None)
                if stored is None or is_compressed(stored):
                    skipped += 1
                    continue
                packed = await asyncio.to_thread(codec.encode, stored)
                if not is_compressed(packed):
                    skipped += 1
                    continue
                pipe.multi()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                pipe.set(key, packed, keepttl=True)
                await pipe.execute()
            except WatchError:
                skipped += 1
                continue
            except aioredis.ResponseError as exc:
                if "WRONGTYPE" not in str(exc):
                    raise
                skipped += 1
                continue
        rewritten += 1
        before += len(stored)
        after += len(packed)
    return CompressionResult(rewritten, skipped, before, after, hits, misses)


async def request_preload(
    client: aioredis.Redis, scope: ManagedScope, keys: Sequence[bytes]
) -> str:
    """Ask the application's loaders for ``keys``; the request id to await results with."""
    for key in keys:
        scope.require(key)
    request = f"{time.time_ns()}"
    # Both streams are created up front (MKSTREAM is a write, not a counted lookup), so every
    # later XRANGE on the results is one keyspace hit, counted by ``await_preload``.
    for stream, group in ((ck.PRELOAD_REQUESTS, ck.PRELOAD_GROUP), (ck.PRELOAD_RESULTS, _RESULTS)):
        try:
            await client.xgroup_create(stream, group, id="$", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.xadd(
                ck.PRELOAD_REQUESTS,
                {b"request": request, b"key": key},
                maxlen=10_000,
                approximate=True,
            )
        await pipe.execute()
    return request


async def await_preload(
    client: aioredis.Redis, request: str, expected: int, timeout_s: float, poll_s: float = 0.05
) -> PreloadResult:
    """Outcomes reported back for ``request`` until all ``expected`` arrived or time is up."""
    started = time.monotonic()
    start_id = f"{int(request) // 1_000_000}-0"
    outcomes: Counter[str] = Counter()
    loader_ms: list[float] = []
    polls = 0
    while True:
        entries = await client.xrange(ck.PRELOAD_RESULTS, min=start_id, max="+")
        polls += 1
        outcomes.clear()
        loader_ms.clear()
        for _id, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], entries):
            if fields.get(b"request") == request.encode():
                outcomes[fields.get(b"outcome", b"").decode(errors="replace")] += 1
                loader_ms.append(float(fields.get(b"ms", b"0")))
        done = sum(outcomes.values())
        if done >= expected or time.monotonic() - started >= timeout_s:
            break
        await asyncio.sleep(poll_s)
    return PreloadResult(
        requested=expected,
        outcomes=dict(outcomes),
        pending=max(0, expected - done),
        duration_s=time.monotonic() - started,
        loader_ms_mean=sum(loader_ms) / len(loader_ms) if loader_ms else None,
        own_hits=polls,
    )
