"""The application-side cache client: counters, hot-key sketch, compression, single-flight.

Wraps a ``redis.asyncio.Redis`` created with ``decode_responses=False``. Importable with only
redis-py and zstandard installed: it must never import FastAPI, psycopg or the service.

    cache = CacheClient(redis.asyncio.Redis.from_url(url), ClientConfig(default_ttl_s=600))
    cache.register_loader(b"rates:", load_rate)          # preload + get_or_load
    value = await cache.get_or_load(b"rates:2026-12-01:room-12")
    task = asyncio.create_task(cache.run())              # flushes counters every 10 s
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter

import redis.asyncio as aioredis

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.codec import Codec, CompressionPolicy, is_compressed
from perfpilot.cache.counters import Counters, field_name
from perfpilot.cache.keyname import namespace_of
from perfpilot.cache.packed import KeyCommand, bulk, call, pack
from perfpilot.cache.singleflight import SingleFlight
from perfpilot.cache.topk import DecayingTopK
from perfpilot.cache.ttlpolicy import TtlPolicy, parse_policies

logger = logging.getLogger(__name__)

Key = bytes | str
Loader = Callable[[bytes], Awaitable[bytes | None]]
_FRESH_MISSES = 10_000
# After this many large values in a row that did not compress, a namespace's values are tried
# only one SET in _PROBE_EVERY, so a namespace whose values start compressing is noticed.
_FUTILE_STREAK = 8
_PROBE_EVERY = 16


@dataclass(frozen=True, slots=True)
class ClientConfig:
    delimiter: bytes = b":"
    namespace_depth: int = 1
    default_ttl_s: float = 300.0
    compression: CompressionPolicy = field(default_factory=CompressionPolicy)
    topk_capacity: int = 1000
    topk_half_life_s: float = 300.0
    flush_interval_s: float = 10.0
    hot_flush_top: int = 200
    lease_ms: int = 5000
    # A key with at least this decayed access count is hot: refreshed early, given the hot TTL.
    hot_min_count: float = 20.0
    # A hot key is reloaded in the background once less than this share of its TTL is left.
    refresh_ahead_fraction: float = 0.1


def as_bytes(key: Key) -> bytes:
    return key.encode() if isinstance(key, str) else key


_GET = KeyCommand([b"GET"])
_PTTL = KeyCommand([b"PTTL"])


async def _listed(reply: Awaitable[object]) -> list[object]:
    """A single-reply fallback's result in the shape ``packed.call`` returns."""
    return [await reply]


def _raw(value: object) -> bytes | None:
    """A GET reply as bytes; text means the client was built with decode_responses=True."""
    if value is None or isinstance(value, bytes):
        return value
    raise TypeError("CacheClient needs a redis client with decode_responses=False")


class CacheClient:
    def __init__(
        self, redis: aioredis.Redis, config: ClientConfig | None = None, client_id: str = ""
    ) -> None:
        self.redis = redis
        self.config = config or ClientConfig()
        self.client_id = client_id or uuid.uuid4().hex[:12]
        self.codec = Codec(self.config.compression)
        self.sketch = DecayingTopK(self.config.topk_capacity, self.config.topk_half_life_s)
        self.flight = SingleFlight(redis, self.config.lease_ms)
        self._counters = Counters()
        self._loaders: dict[bytes, Loader] = {}
        self._announced: set[bytes] = set()
        self._policies: dict[bytes, TtlPolicy] = {}
        self._fresh_misses: OrderedDict[bytes, None] = OrderedDict()
        self._futile: dict[bytes, int] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self._last_decay = time.monotonic()

    def namespace(self, key: bytes) -> bytes:
        return namespace_of(key, self.config.delimiter, self.config.namespace_depth)

    def register_loader(self, namespace: Key, loader: Loader) -> None:
        """The application's loader for a namespace: used on a miss and for preloading."""
        self._loaders[as_bytes(namespace)] = loader

    def loader_for(self, key: bytes) -> Loader | None:
        return self._loaders.get(self.namespace(key))

    async def get(self, key: Key) -> bytes | None:
        """The decoded value, or None on a miss; counted and fed to the hot-key sketch."""
        k = key if isinstance(key, bytes) else key.encode()
        self.sketch.observe(k)
        started = perf_counter()
        stored = await self._fetch(k)
        self._count_read(k, stored, started)
        return None if stored is None else self.codec.decode(stored)

    # GET and SET go through ``packed.call``: packed here and read raw under one deadline,
    # which saves ~25 us a call over redis-py's generic command path (its option handling,
    # packer, per-reply timer and callbacks); that is what pays for compressing a 10 KB value.

    async def _fetch(self, k: bytes) -> bytes | None:
        (reply,) = await call(
            self.redis, _GET.with_key(bulk(k)), 1, lambda: _listed(self.redis.get(k))
        )
        return _raw(reply)

    async def _fetch_with_pttl(self, k: bytes) -> tuple[bytes | None, object]:
        async def fallback() -> list[object]:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(k)
                pipe.pttl(k)
                return list(await pipe.execute())

        key = bulk(k)
        raw, pttl = await call(self.redis, _GET.with_key(key) + _PTTL.with_key(key), 2, fallback)
        return _raw(raw), pttl

    async def set(self, key: Key, value: bytes, ttl_s: float | None = None) -> None:
        """Store ``value`` (compressed when it pays) with the namespace's steered TTL."""
        k = key if isinstance(key, bytes) else key.encode()
        started = perf_counter()
        ns = self.namespace(k)
        stored = self._encode(ns, value)
        px = self.ttl_ms(k, ttl_s)
        command = pack(b"SET", k, stored, b"PX", b"%d" % px)
        await call(self.redis, command, 1, lambda: _listed(self.redis.set(k, stored, px=px)))
        tally = self._counters.of(ns)
        tally.sets += 1
        tally.bytes_written += len(stored)
        tally.bytes_saved += len(value) - len(stored)
        tally.latency_us += int((perf_counter() - started) * 1e6)
        tally.ops += 1

    def _encode(self, ns: bytes, value: bytes) -> bytes:
        """The codec's encoding, skipping the compression attempt in a namespace whose recent
        large values did not compress (already compressed images, random tokens): each
        attempt costs a full zstd pass for nothing. One in ``_PROBE_EVERY`` still tries."""
        if len(value) < self.codec.policy.min_bytes:
            return self.codec.plain(value)
        futile = self._futile.get(ns, 0)
        if futile >= _FUTILE_STREAK and futile % _PROBE_EVERY:
            self._futile[ns] = futile + 1
            return self.codec.plain(value)
        stored = self.codec.encode(value)
        self._futile[ns] = 0 if is_compressed(stored) else futile + 1
        return stored

    async def delete(self, key: Key) -> None:
        await self.redis.delete(as_bytes(key))

    async def get_or_load(
        self, key: Key, loader: Loader | None = None, ttl_s: float | None = None
    ) -> bytes | None:
        """The cached value, or the loader's (run once across concurrent misses) stored for next
        time. A hot key close to expiry is returned and reloaded in the background."""
        k = key if isinstance(key, bytes) else key.encode()
        load = loader or self.loader_for(k)
        if load is None:
            raise LookupError(f"no loader registered for namespace {self.namespace(k)!r}")
        hot = self.sketch.observe(k) >= self.config.hot_min_count
        started = perf_counter()
        pttl: object = None
        if hot:
            stored, pttl = await self._fetch_with_pttl(k)
        else:
            stored = await self._fetch(k)
        self._count_read(k, stored, started)
        if stored is not None:
            if isinstance(pttl, int) and 0 <= pttl < self._refresh_ahead_ms(k, ttl_s):
                self._refresh_later(k, load, ttl_s)
            return self.codec.decode(stored)
        return await self._load(k, load, ttl_s)

    async def _load(self, k: bytes, load: Loader, ttl_s: float | None) -> bytes | None:
        async def produce() -> bytes | None:
            value = await load(k)
            if value is not None:
                await self.set(k, value, ttl_s)
            return value

        async def read() -> bytes | None:
            stored = _raw(await self.redis.get(k))
            return None if stored is None else self.codec.decode(stored)

        return await self.flight.run(k, produce, read)

    def _refresh_later(self, k: bytes, load: Loader, ttl_s: float | None) -> None:
        if self.flight.loading(k):
            return
        task = asyncio.ensure_future(self._refresh(k, load, ttl_s))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh(self, k: bytes, load: Loader, ttl_s: float | None) -> None:
        try:
            await self._load(k, load, ttl_s)
        except Exception:  # a failed early refresh leaves the cached value in place
            logger.warning("early refresh of %r failed", k, exc_info=True)

    def _refresh_ahead_ms(self, k: bytes, ttl_s: float | None) -> float:
        return self.config.refresh_ahead_fraction * self.ttl_ms(k, ttl_s, first=False)

    def ttl_ms(self, k: bytes, ttl_s: float | None = None, first: bool | None = None) -> int:
        """The TTL a SET of ``k`` gets: explicit, else the namespace policy, else the default."""
        if ttl_s is not None:
            return max(1, math.ceil(ttl_s * 1000))
        policy = self._policies.get(self.namespace(k))
        if policy is None:
            return max(1, math.ceil(self.config.default_ttl_s * 1000))
        if self.sketch.count(k) >= self.config.hot_min_count:
            return policy.hot_ttl_ms
        if first is None:
            first = k in self._fresh_misses
            self._fresh_misses.pop(k, None)
        is_first = first
        return policy.first_ttl_ms if is_first else policy.ttl_ms

    def _count_read(self, k: bytes, stored: bytes | None, started: float) -> None:
        tally = self._counters.of(self.namespace(k))
        if stored is None:
            tally.misses += 1
            if self.sketch.count(k) <= 1.0:
                self._fresh_misses[k] = None
                if len(self._fresh_misses) > _FRESH_MISSES:
                    self._fresh_misses.popitem(last=False)
        else:
            tally.hits += 1
            tally.bytes_read += len(stored)
        tally.latency_us += int((perf_counter() - started) * 1e6)
        tally.ops += 1

    async def flush(self) -> None:
        """Write counters, the top-K and loader namespaces; read the TTL policy. One round trip."""
        now = time.time()
        mono = time.monotonic()
        self.sketch.decay(mono - self._last_decay)
        self._last_decay = mono
        taken = self._counters.take()
        bucket = ck.stats_key(int(now // 60))
        hot = ck.hot_key(self.client_id)
        top = self.sketch.top(self.config.hot_flush_top)
        pipe = self.redis.pipeline(transaction=True)
        for ns, fields in taken.items():
            for name, amount in fields.items():
                pipe.hincrby(bucket, field_name(name, ns), amount)
        pipe.expire(bucket, ck.STATS_TTL_S)
        pipe.delete(hot)
        if top:
            pipe.zadd(hot, dict(top))
            pipe.expire(hot, ck.HOT_TTL_S)
        pipe.zadd(ck.CLIENTS, {self.client_id: now})
        for ns in self._loaders:
            pipe.hset(ck.LOADERS, ns, self.client_id)
        pipe.hgetall(ck.TTL_POLICY)
        try:
            results = await pipe.execute()
        except Exception:
            self._counters.restore(taken)
            raise
        self._policies = parse_policies(results[-1])

    async def run(self) -> None:
        """Flush every ``flush_interval_s`` until cancelled; a failed flush is retried next time."""
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            try:
                await self.flush()
            except aioredis.RedisError as exc:
                logger.warning("cache counters not flushed (kept for the next try): %s", exc)

    async def aclose(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)
