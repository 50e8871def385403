"""The Cache Optimizer on the real Redis: report, hot/big keys, hit ratio, safety and actions."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import redis.asyncio as aioredis

from perfpilot.cache import controlkeys as ck
from perfpilot.cache.client import CacheClient, ClientConfig
from perfpilot.cache.codec import is_compressed
from perfpilot.cache.keyrank import Signal
from perfpilot.cache.plan import ActionKind
from perfpilot.cache.preload_consumer import PreloadConsumer
from perfpilot.core.audit import Outcome
from perfpilot.core.risk import Trigger

from .conftest import MakeOptimizer


def _doc(rows: int) -> bytes:
    return json.dumps([{"room": i, "rate": 99.5, "board": "BB"} for i in range(rows)]).encode()


async def test_report_finds_namespaces_big_keys_and_escapes_binary_names(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    await redis_client.rpush(b"queue:big", *[b"x" * 100] * 20_000)
    await redis_client.set(b"rates:\xff\xfe", b"v", px=5_000)
    for i in range(50):
        await redis_client.set(f"rates:{i}".encode(), b"y" * 200)
    optimizer = make_optimizer(big_key_bytes=1 << 20)
    report = await optimizer.report()
    assert report.sweep.complete
    assert report.sweep.keys_read == 52
    big = report.big_keys[0]
    assert (big.name, big.type, big.elements) == ("queue:big", "list", 20_000)
    assert any(f.check == "big_key" and f.subject == "queue:big" for f in report.findings)
    rates = next(n for n in report.namespaces if n.name == "rates:")
    assert (rates.keys, rates.without_ttl, rates.ttl_buckets["1m-1h"]) == (51, 50, 0)
    assert rates.ttl_buckets["<1m"] == 1
    assert rates.hit_ratio is None  # no client counters: unknown, not 0
    names = {k.name for k in report.cold_keys} | {n.name for n in report.namespaces}
    assert "rates:" in names
    assert report.actions == ()  # no managed prefixes: recommend only
    assert report.writes.startswith("disabled")


async def test_hot_keys_from_the_client_match_a_zipf_workload(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer, lfu: None
) -> None:
    cache = CacheClient(redis_client, ClientConfig(topk_capacity=200))
    rng = np.random.default_rng(3)
    ranks = rng.zipf(1.1, 6000)
    ranks = ranks[ranks <= 500]
    for r in range(1, 501):
        await redis_client.set(f"rates:{r}".encode(), b"v")
    for chunk in np.array_split(ranks, 30):
        await asyncio.gather(*(cache.get(f"rates:{r}") for r in chunk))
    await cache.flush()
    values, counts = np.unique(ranks, return_counts=True)
    true_top = {f"rates:{v}" for v in values[np.argsort(-counts, kind="stable")][:10]}
    report = await make_optimizer().report()
    hot = report.hot_keys[:10]
    assert all(k.signal is Signal.CLIENT_TOPK for k in hot)
    assert len({k.name for k in hot} & true_top) >= 9
    # OBJECT FREQ (LFU) sees the same skew, coarsely: the hottest key is far above a new key's 5.
    freq = await redis_client.object("FREQ", b"rates:1")
    assert freq > 5


async def test_reported_hit_ratio_excludes_the_sweeps_own_lookups(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    for i in range(300):
        await redis_client.set(f"rates:{i}".encode(), b"v")
    optimizer = make_optimizer()
    await optimizer.report()
    for i in range(30):
        await redis_client.get(f"rates:{i}".encode())
    for i in range(10):
        await redis_client.get(f"rates:missing:{i}".encode())
    report = await optimizer.report()
    assert report.window is not None
    # The second sweep alone made 900 hit lookups (TYPE, PTTL, OBJECT per key).
    assert report.window.own_lookups >= 900
    assert (report.window.hits, report.window.misses) == (30, 10)
    assert report.window.hit_ratio == pytest.approx(0.75)


async def _protected(redis_client: aioredis.Redis) -> dict[bytes, tuple[bytes | None, int]]:
    await redis_client.set(b"lock:booking:42", b"owner-7", px=30_000)
    await redis_client.set(b"session:abc", _doc(500))
    await redis_client.set(b"ratesX:not-managed", _doc(500))
    out = {}
    for key in (b"lock:booking:42", b"session:abc", b"ratesX:not-managed"):
        out[key] = (await redis_client.get(key), await redis_client.pttl(key))
    return out


async def test_every_action_leaves_keys_outside_the_prefixes_alone(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    before = await _protected(redis_client)
    await redis_client.rpush(b"rates:queue", b"job")  # a list under a managed prefix
    for i in range(20):
        await redis_client.set(f"rates:{i}".encode(), _doc(400))
    cache = CacheClient(redis_client)
    cache.register_loader("rates:", lambda key: asyncio.sleep(0, b"loaded"))
    for _ in range(30):
        await cache.get("rates:0")
    await cache.flush()
    optimizer = make_optimizer("rates:", compress_namespaces=["rates:"], compress_min_bytes=1024)
    _report, outcomes = await optimizer.optimize(Trigger.FORCED)
    kinds = {o.action.kind for o in outcomes if o.outcome is Outcome.APPLIED}
    assert {ActionKind.EXPIRE_KEYS, ActionKind.COMPRESS_VALUES} <= kinds
    for key, (value, pttl) in before.items():
        assert await redis_client.get(key) == value
        after = await redis_client.pttl(key)
        assert after == -1 if pttl == -1 else 0 < after <= pttl
    assert await redis_client.lrange(b"rates:queue", 0, -1) == [b"job"]
    assert await redis_client.pttl(b"rates:queue") == -1


async def test_compression_rewrites_in_place_keeping_the_ttl(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    doc = _doc(400)
    for i in range(10):
        await redis_client.set(f"rates:{i}".encode(), doc, ex=600)
    optimizer = make_optimizer("rates:", compress_namespaces=["rates:"], compress_min_bytes=1024)
    _, outcomes = await optimizer.optimize(Trigger.FORCED)
    compress = next(o for o in outcomes if o.action.kind is ActionKind.COMPRESS_VALUES)
    assert compress.outcome is Outcome.APPLIED
    assert compress.before["bytes"] == 10 * len(doc)
    after_bytes = compress.after["bytes"]
    assert isinstance(after_bytes, int)
    assert after_bytes * 4 <= 10 * len(doc)
    cache = CacheClient(redis_client)
    for i in range(10):
        stored = await redis_client.get(f"rates:{i}".encode())
        assert stored is not None
        assert is_compressed(stored)
        assert await cache.get(f"rates:{i}") == doc
        assert 590_000 < await redis_client.pttl(f"rates:{i}".encode()) <= 600_000


async def test_compression_is_only_planned_without_force(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    doc = _doc(400)
    await redis_client.set(b"rates:1", doc)
    optimizer = make_optimizer("rates:", compress_namespaces=["rates:"])
    _, outcomes = await optimizer.optimize(Trigger.REQUEST)
    assert outcomes
    assert {o.outcome for o in outcomes} == {Outcome.PLANNED}
    assert await redis_client.get(b"rates:1") == doc
    assert await redis_client.pttl(b"rates:1") == -1


async def test_preloading_runs_the_applications_loader(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    loaded: list[bytes] = []

    async def load_rate(key: bytes) -> bytes:
        loaded.append(key)
        return b"rate for " + key

    cache = CacheClient(redis_client)
    cache.register_loader("rates:", load_rate)
    consumer = PreloadConsumer(cache, block_ms=100)
    await consumer.drain_once(block_ms=1)
    for i in range(5):
        for _ in range(10 - i):
            await cache.get(f"rates:{i}")  # hot keys, all missing
    await cache.flush()
    optimizer = make_optimizer("rates:")
    consuming = asyncio.create_task(_drain(consumer))
    _, outcomes = await optimizer.optimize(Trigger.FORCED)
    consuming.cancel()
    preload = next(o for o in outcomes if o.action.kind is ActionKind.PRELOAD)
    assert preload.outcome is Outcome.APPLIED, preload.detail
    assert preload.after["warmed"] == 5
    assert sorted(loaded) == [f"rates:{i}".encode() for i in range(5)]
    for i in range(5):
        assert await cache.get(f"rates:{i}") == f"rate for rates:{i}".encode()


async def _drain(consumer: PreloadConsumer) -> None:
    while True:
        await consumer.drain_once(block_ms=50)


async def test_adaptive_ttl_moves_the_hit_ratio_toward_its_target(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    config = ClientConfig(default_ttl_s=0.15, hot_min_count=1e9)
    cache = CacheClient(redis_client, config)
    optimizer = make_optimizer(
        "avail:", default_ttl_s=0.15, ttl_min_s=0.1, ttl_max_s=10, target_hit_ratio=0.95
    )

    async def load(key: bytes) -> bytes:
        return b"free rooms"

    ratios, ttls = [], []
    for _ in range(3):
        misses = 0
        reads = 0
        for _ in range(8):
            for i in range(25):
                before = cache.flight.loads
                await cache.get_or_load(f"avail:{i}", load)
                misses += cache.flight.loads - before
                reads += 1
            await asyncio.sleep(0.06)
        ratios.append(1 - misses / reads)
        await cache.flush()
        _, outcomes = await optimizer.optimize(Trigger.FORCED)
        policy = next(o for o in outcomes if o.action.kind is ActionKind.TTL_POLICY)
        assert policy.outcome is Outcome.APPLIED
        ttls.append(policy.after["ttl_ms"])
        await cache.flush()  # picks up the published policy
    assert ttls == sorted(ttls)
    assert ttls[0] > 150
    assert ratios[-1] > ratios[0] + 0.2
    changes = await asyncio.to_thread(optimizer._ledger.recent, 10)
    assert len(changes) == 3
    assert changes[-1].hit_ratio_before is not None
    assert await redis_client.hget(ck.TTL_POLICY, b"avail:") is not None


async def test_unreachable_redis_is_a_clear_error(make_optimizer: MakeOptimizer) -> None:
    optimizer = make_optimizer()
    optimizer.url = "redis://127.0.0.1:1/0"
    with pytest.raises(aioredis.ConnectionError):
        await optimizer.report()


async def test_a_read_only_replica_is_reported_and_nothing_is_written(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer, replica_url: str
) -> None:
    for i in range(20):
        await redis_client.set(f"rates:{i}".encode(), _doc(400))  # no TTL, compressible
    replica = aioredis.Redis.from_url(replica_url)
    try:
        for _ in range(100):
            if await replica.dbsize() == 20:
                break
            await asyncio.sleep(0.05)
        optimizer = make_optimizer(
            "rates:", url=replica_url, compress_namespaces=["rates:"], compress_min_bytes=1024
        )
        report, outcomes = await optimizer.optimize(Trigger.FORCED)
    finally:
        await replica.aclose()
    assert report.server.role == "slave"
    assert report.writes == "disabled: the server is a slave (read-only)"
    kinds = {o.action.kind for o in outcomes}
    assert {ActionKind.EXPIRE_KEYS, ActionKind.COMPRESS_VALUES} <= kinds
    assert {o.outcome for o in outcomes} == {Outcome.SKIPPED}
    assert {o.detail for o in outcomes} == {"the server is a read-only replica"}
    for i in range(20):
        key = f"rates:{i}".encode()
        assert await redis_client.pttl(key) == -1
        assert await redis_client.get(key) == _doc(400)
    assert await redis_client.exists(ck.TTL_POLICY, ck.PRELOAD_REQUESTS) == 0
