"""The client library on the real Redis: import weight, codec, single-flight, counters, preload."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from tests.ports import free_port

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.client import CacheClient, ClientConfig
from perfpilot.cache.codec import MAGIC, Codec, CompressionPolicy, is_compressed
from perfpilot.cache.packed import call, pack
from perfpilot.cache.topk import DecayingTopK

FORBIDDEN = ("fastapi", "starlette", "psycopg", "pydantic", "numpy", "perfpilot.core")


def test_client_imports_only_redis_and_zstandard() -> None:
    code = (
        "import sys, json; import perfpilot.cache.client, perfpilot.cache.preload_consumer;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout)
    heavy = [m for m in modules if m.startswith(FORBIDDEN) or m == "perfpilot.app"]
    assert heavy == []
    assert "zstandard" in modules
    assert "redis.asyncio" in modules


def _doc(size: int) -> bytes:
    rows = [
        {"room": i, "rate": 120.5 + i % 7, "currency": "EUR", "available": True}
        for i in range(size)
    ]
    return json.dumps(rows).encode()


def test_codec_round_trips_and_reads_plain_and_foreign_values() -> None:
    codec = Codec()
    doc = _doc(200)
    packed = codec.encode(doc)
    assert is_compressed(packed)
    assert len(packed) * 4 <= len(doc)
    assert codec.decode(packed) == doc
    # Small or incompressible values are stored as they are.
    assert codec.encode(b"short") == b"short"
    noise = os.urandom(4096)
    assert codec.encode(noise) == noise
    # A plain value that looks like our header reads back exactly.
    tricky = MAGIC + b"\x01not zstd at all"
    assert codec.decode(codec.encode(tricky)) == tricky
    # An unknown codec byte is not ours to decode: returned untouched.
    assert codec.decode(MAGIC + b"\x7fother") == MAGIC + b"\x7fother"


def test_small_and_large_profiles_write_frames_any_client_reads() -> None:
    small_first = Codec(CompressionPolicy(small_value_bytes=64 * 1024))
    preset_only = Codec(CompressionPolicy(small_value_bytes=0))
    for rows in (40, 200, 3000):  # ~2 KB and ~10 KB take the small profile, ~125 KB the preset
        doc = _doc(rows)
        for writer, reader in ((small_first, preset_only), (preset_only, small_first)):
            packed = writer.encode(doc)
            assert is_compressed(packed)
            assert reader.decode(packed) == doc
    # On repetitive JSON the small table loses nothing against the level-3 preset.
    doc = _doc(200)
    assert len(small_first.encode(doc)) <= len(preset_only.encode(doc)) * 1.05


async def test_compression_through_redis_reads_legacy_values(
    redis_client: aioredis.Redis,
) -> None:
    cache = CacheClient(redis_client)
    await redis_client.set(b"rates:legacy", b'{"plain": true}')
    assert await cache.get("rates:legacy") == b'{"plain": true}'
    doc = _doc(300)
    await cache.set("rates:big", doc, ttl_s=60)
    stored = await redis_client.get(b"rates:big")
    assert stored is not None
    assert is_compressed(stored)
    assert len(stored) < len(doc) / 4
    assert await cache.get("rates:big") == doc
    assert 0 < await redis_client.pttl(b"rates:big") <= 60_000


async def test_fifty_concurrent_misses_run_the_loader_once(redis_url: str) -> None:
    # Five clients with their own connection pools stand for five application processes.
    clients = [CacheClient(aioredis.Redis.from_url(redis_url)) for _ in range(5)]
    calls = 0

    async def loader(key: bytes) -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return b"value of " + key

    values = await asyncio.gather(
        *(clients[i % 5].get_or_load(b"avail:2026-12-01", loader) for i in range(50))
    )
    assert calls == 1
    assert set(values) == {b"value of avail:2026-12-01"}
    for c in clients:
        await c.redis.aclose()


async def test_counters_and_top_k_are_flushed(redis_client: aioredis.Redis) -> None:
    cache = CacheClient(redis_client, client_id="app-1")
    await cache.set("rates:a", b"1")
    for _ in range(3):
        await cache.get("rates:a")
    await cache.get("rates:missing")
    await cache.flush()
    buckets = [await redis_client.hgetall(k) async for k in redis_client.scan_iter(ck.STATS + b"*")]
    merged = {k: int(v) for b in buckets for k, v in b.items()}
    assert merged[b"hits:rates:"] == 3
    assert merged[b"misses:rates:"] == 1
    hot = await redis_client.zrevrange(ck.hot_key("app-1"), 0, 0, withscores=True)
    assert hot[0][0] == b"rates:a"


def test_top_k_finds_the_heavy_keys_of_a_zipf_stream() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    keys = rng.zipf(1.1, 200_000)
    keys = keys[keys <= 100_000]
    sketch = DecayingTopK(capacity=1000)
    for k in keys:
        sketch.observe(str(k).encode())
    values, counts = np.unique(keys, return_counts=True)
    true_top = {str(v).encode() for v in values[np.argsort(-counts)][:100]}
    found = {k for k, _ in sketch.top(100)}
    assert len(found & true_top) >= 95


async def test_a_hot_key_near_expiry_is_refreshed_before_it_expires(
    redis_client: aioredis.Redis,
) -> None:
    versions = iter(range(1, 100))
    calls: list[bytes] = []

    async def loader(key: bytes) -> bytes:
        calls.append(key)
        return f"v{next(versions)}".encode()

    config = ClientConfig(hot_min_count=3, refresh_ahead_fraction=0.5)
    cache = CacheClient(redis_client, config)
    assert await cache.get_or_load("rates:hot", loader, ttl_s=1.0) == b"v1"
    for _ in range(3):
        assert await cache.get_or_load("rates:hot", loader, ttl_s=1.0) == b"v1"
    assert calls == [b"rates:hot"]  # hot now, but far from expiry: no refresh yet
    assert cache._refreshing == set()
    await asyncio.sleep(0.6)  # under half of the 1 s TTL is left
    # Still served from the cache, while the loader runs in the background.
    assert await cache.get_or_load("rates:hot", loader, ttl_s=1.0) == b"v1"
    refresh = set(cache._refreshing)
    assert len(refresh) == 1
    await asyncio.wait_for(asyncio.gather(*refresh), timeout=2)
    assert calls == [b"rates:hot", b"rates:hot"]
    assert await redis_client.get(b"rates:hot") == b"v2"
    assert await redis_client.pttl(b"rates:hot") > 900  # a fresh TTL, set before expiry


async def test_a_cold_key_near_expiry_is_not_refreshed(redis_client: aioredis.Redis) -> None:
    calls = 0

    async def loader(key: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return b"v"

    cache = CacheClient(redis_client, ClientConfig(hot_min_count=50, refresh_ahead_fraction=0.5))
    await cache.get_or_load("rates:cold", loader, ttl_s=0.5)
    await asyncio.sleep(0.3)
    assert await cache.get_or_load("rates:cold", loader, ttl_s=0.5) == b"v"
    assert cache._refreshing == set()
    assert calls == 1


async def test_compression_is_not_attempted_where_it_keeps_failing(
    redis_client: aioredis.Redis,
) -> None:
    cache = CacheClient(redis_client)
    for i in range(8):  # e.g. JPEG thumbnails: large and incompressible
        await cache.set(f"thumbs:{i}", os.urandom(4096))
    doc = _doc(200)
    await cache.set("thumbs:doc", doc)
    stored = await redis_client.get(b"thumbs:doc")
    assert stored == doc  # not tried: the namespace's last 8 large values did not compress
    assert await cache.get("thumbs:doc") == doc
    # One SET in 16 still tries; when it pays, the namespace compresses again.
    for _ in range(8):
        await cache.set("thumbs:doc", doc)
    stored = await redis_client.get(b"thumbs:doc")
    assert stored is not None
    assert is_compressed(stored)
    # Other namespaces were never affected.
    await cache.set("rates:doc", doc)
    assert is_compressed(await redis_client.get(b"rates:doc") or b"")


async def test_large_and_binary_values_round_trip_exactly(redis_client: aioredis.Redis) -> None:
    cache = CacheClient(redis_client)
    noise = os.urandom(300_000)  # incompressible, sent as its own chunk (not copied)
    key = b"blobs:\xff\r\n\x00"
    await cache.set(key, noise, ttl_s=30)
    assert await redis_client.get(key) == noise
    assert 29_000 < await redis_client.pttl(key) <= 30_000
    assert await cache.get(key) == noise
    doc = _doc(20_000)  # ~1 MB of JSON: compressed with the level-3 preset
    await cache.set("rates:year", doc)
    assert await cache.get("rates:year") == doc


async def test_error_replies_are_raised_and_nothing_is_written(
    redis_client: aioredis.Redis,
) -> None:
    cache = CacheClient(redis_client)
    await redis_client.rpush(b"queue:jobs", b"job-1")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await cache.get(b"queue:jobs")
    policy = (await redis_client.config_get("maxmemory-policy"))["maxmemory-policy"]
    await redis_client.config_set("maxmemory-policy", "noeviction")
    await redis_client.config_set("maxmemory", "1")  # every write is now refused
    try:
        with pytest.raises(ResponseError, match="maxmemory"):
            await cache.set(b"rates:a", _doc(50))
    finally:
        await redis_client.config_set("maxmemory", "0")
        await redis_client.config_set("maxmemory-policy", policy)
    assert await redis_client.exists(b"rates:a") == 0
    assert await redis_client.lrange(b"queue:jobs", 0, -1) == [b"job-1"]
    # The connection that carried the errors is still in step: the next reply is its own.
    await cache.set(b"rates:a", b"fresh")
    assert await cache.get(b"rates:a") == b"fresh"


async def test_a_dropped_connection_is_retried_through_redis_py(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    app = aioredis.Redis.from_url(redis_url)
    cache = CacheClient(app)
    try:
        await cache.set(b"rates:a", b"before")
        killed = await redis_client.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        # Every pooled connection of the application is dead; the call still succeeds (the
        # pool replaces a dead connection at checkout).
        assert await cache.get(b"rates:a") == b"before"
        await redis_client.client_kill_filter(_type="normal", skipme=True)
        await cache.set(b"rates:a", b"after", ttl_s=60)
        assert await redis_client.get(b"rates:a") == b"after"
    finally:
        await app.aclose()


async def test_a_decoding_redis_client_still_gets_bytes_back(redis_url: str) -> None:
    app = aioredis.Redis.from_url(redis_url, decode_responses=True)
    cache = CacheClient(app)
    try:
        await cache.set(b"rates:a", _doc(100))
        assert await cache.get(b"rates:a") == _doc(100)
    finally:
        await app.aclose()


async def test_an_unreachable_server_goes_to_redis_pys_own_path() -> None:
    calls: list[str] = []

    async def fallback() -> list[object]:
        calls.append("fallback")
        return [b"from redis-py"]

    nobody = aioredis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    try:
        assert await call(nobody, pack(b"GET", b"k"), 1, fallback) == [b"from redis-py"]
    finally:
        await nobody.aclose()
    assert calls == ["fallback"]
