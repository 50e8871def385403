"""The sweep's two read paths and the packed exchange under them, on the real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from perfpilot.cache.packed import KeyCommand, bulk, exchange, pack_for_keys
from perfpilot.cache.sweep import KeyReading, SweepBudget, sweep

BUDGET = SweepBudget(max_keys=10_000, time_s=30, cpu_share=1.0, big_key_bytes=8192)


async def _mixed_keyspace(r: aioredis.Redis) -> None:
    await r.set(b"rates:plain", b"v" * 300)
    await r.set(b"rates:ttl", b"v", px=600_000)
    await r.set(b"bin:\xff\r\n\x00name", b"odd key name")
    await r.hset(b"guests:h", mapping={f"f{i}": "x" for i in range(10)})
    await r.rpush(b"queue:big", *[b"y" * 100] * 200)  # over big_key_bytes: elements read
    await r.sadd(b"tags:s", b"a", b"b", b"c")
    await r.zadd(b"rank:z", {b"a": 1.0, b"b": 2.0})
    await r.xadd(b"events:x", {b"k": b"v"})


def _by_key(readings: tuple[KeyReading, ...]) -> dict[bytes, KeyReading]:
    return {r.key: r for r in readings}


@pytest.mark.usefixtures("lfu")
async def test_pipeline_and_script_read_the_same_fields(redis_client: aioredis.Redis) -> None:
    await _mixed_keyspace(redis_client)
    script = await sweep(redis_client, BUDGET, lfu=True, use_script=True)
    pipeline = await sweep(redis_client, BUDGET, lfu=True, use_script=False)
    assert (script.mode, pipeline.mode) == ("script", "pipeline")
    a, b = _by_key(script.readings), _by_key(pipeline.readings)
    assert set(a) == set(b)
    assert len(a) == 8
    for key, x in a.items():
        y = b[key]
        assert (x.type, x.memory_bytes, x.elements) == (y.type, y.memory_bytes, y.elements)
        assert abs(x.pttl_ms - y.pttl_ms) < 5_000
        # The big key's element count is a real access (LLEN bumps its LFU counter), the
        # only lookup of the sweep that is; every other key's counter is left as it was.
        assert y.freq == x.freq or (key == b"queue:big" and y.freq == (x.freq or 0) + 1)
    assert b[b"bin:\xff\r\n\x00name"].type == "string"
    assert b[b"queue:big"].elements == 200
    assert b[b"rates:plain"].pttl_ms == -1
    assert b[b"rates:ttl"].pttl_ms > 590_000
    assert b[b"guests:h"].elements is None  # small key: no element count, no extra lookup


@pytest.mark.usefixtures("lfu")
async def test_pipeline_counts_exactly_the_lookups_redis_counted(
    redis_client: aioredis.Redis,
) -> None:
    await _mixed_keyspace(redis_client)
    await redis_client.config_resetstat()
    result = await sweep(redis_client, BUDGET, lfu=True, use_script=False)
    stats = await redis_client.info("stats")
    assert result.own_hits > 0
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == (
        result.own_hits,
        result.own_misses,
    )


async def test_refused_scripting_falls_back_to_the_pipeline(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    await _mixed_keyspace(redis_client)
    user = f"sweeper-{uuid.uuid4().hex[:8]}"
    await redis_client.acl_setuser(
        user, enabled=True, nopass=True, keys=["*"], commands=["+@all", "-@scripting"]
    )
    limited = aioredis.Redis.from_url(redis_url, username=user, password="")
    try:
        result = await sweep(limited, BUDGET, lfu=False, use_script=True)
    finally:
        await limited.aclose()
        await redis_client.acl_deluser(user)
    assert result.mode == "pipeline"
    assert result.complete
    readings = _by_key(result.readings)
    assert len(readings) == 8
    assert readings[b"queue:big"].elements == 200
    assert all(r.idle_s is not None and r.freq is None for r in readings.values())


async def test_refused_type_is_an_error_not_a_missing_key(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    await redis_client.set(b"rates:a", b"v")
    user = f"notype-{uuid.uuid4().hex[:8]}"
    await redis_client.acl_setuser(
        user, enabled=True, nopass=True, keys=["*"], commands=["+@all", "-type"]
    )
    limited = aioredis.Redis.from_url(redis_url, username=user, password="")
    try:
        with pytest.raises(ResponseError, match=r"(?i)permission"):
            await sweep(limited, BUDGET, lfu=False, use_script=False)
    finally:
        await limited.aclose()
        await redis_client.acl_deluser(user)


async def test_error_replies_stay_in_place(redis_client: aioredis.Redis) -> None:
    await redis_client.set(b"n:1", b"41")
    await redis_client.set(b"n:2", b"not a number")
    await redis_client.set(b"n:3", b"9")
    incr = KeyCommand([b"INCR"])
    replies = await exchange(
        redis_client, pack_for_keys([incr], [b"n:1", b"n:2", b"n:3"]), 3, timeout_s=5
    )
    assert replies[0] == 42
    assert replies[2] == 10
    assert isinstance(replies[1], ResponseError)
    assert await redis_client.get(b"n:2") == b"not a number"


async def test_a_missed_deadline_leaves_no_stale_reply_on_the_pool(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.set(b"k", b"value")
    # A Lua loop keeps Redis busy for a few hundred ms, well past the 50 ms deadline.
    loop = b"local i=0 while i<30000000 do i=i+1 end return 1"
    busy = b"*3\r\n" + bulk(b"EVAL") + bulk(loop) + bulk(b"0")
    get = KeyCommand([b"GET"]).with_key(bulk(b"k"))
    with pytest.raises(RedisTimeoutError, match="2 replies"):
        await exchange(redis_client, busy + get, 2, timeout_s=0.05)
    # The connection that timed out was dropped, not returned with two replies pending.
    assert await redis_client.get(b"k") == b"value"
    assert await redis_client.ping() is True


def test_a_command_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        KeyCommand([])


@pytest.mark.usefixtures("lfu")
@pytest.mark.parametrize("use_script", [True, False])
async def test_a_single_connection_client_sweeps_on_its_own_connection(
    redis_client: aioredis.Redis, redis_url: str, use_script: bool
) -> None:
    # The optimizer's client: one connection, where CLIENT NO-TOUCH (7.2+) would be set.
    await _mixed_keyspace(redis_client)
    name = f"sweep-{uuid.uuid4().hex[:8]}"
    single = aioredis.Redis.from_url(redis_url, single_connection_client=True, client_name=name)
    try:
        await single.ping()
        (own,) = [c for c in await redis_client.client_list() if c["name"] == name]
        result = await sweep(single, BUDGET, lfu=True, use_script=use_script)
        after = [c for c in await redis_client.client_list() if c["name"] == name]
    finally:
        await single.aclose()
    assert result.mode == ("script" if use_script else "pipeline")
    assert len(result.readings) == 8
    assert [c["id"] for c in after] == [own["id"]]


@pytest.mark.usefixtures("lfu")
async def test_a_resumed_sweep_reloads_a_flushed_script(redis_client: aioredis.Redis) -> None:
    await _mixed_keyspace(redis_client)
    for i in range(3000):  # several SCAN steps, with SCRIPT FLUSH between two of them
        await redis_client.set(f"fill:{i}".encode(), b"v")
    budget = SweepBudget(max_keys=100, time_s=30, cpu_share=1.0, scan_count=100)
    first = await sweep(redis_client, budget, lfu=True)
    await redis_client.script_flush()
    rest = await sweep(redis_client, BUDGET, lfu=True, cursor=first.cursor)
    assert rest.mode == "script"
    assert rest.complete
    assert len(first.readings) + len(rest.readings) >= 3008
