"""Preloading before a forecast peak: the look-ahead decision, the CPU adapter, and one run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis

from perfpilot.cache.client import CacheClient
from perfpilot.cache.peak import PRELOAD_SOON_MS, CpuPeak, preload_window
from perfpilot.cache.plan import ActionKind, preload_actions
from perfpilot.cache.preload_consumer import PreloadConsumer
from perfpilot.cache.scope import ManagedScope
from perfpilot.core.audit import Outcome
from perfpilot.core.risk import Trigger
from perfpilot.monitor.model import Forecast

from .conftest import MakeOptimizer

NS = b"rates:"
HOT = [b"rates:missing", b"rates:in-5-min", b"rates:in-40-min", b"rates:in-30-s"]
PTTL = {b"rates:in-5-min": 300_000, b"rates:in-40-min": 2_400_000, b"rates:in-30-s": 30_000}


def _planned(minutes_to_peak: float | None) -> set[bytes]:
    window = preload_window(minutes_to_peak, horizon_min=30)
    actions = preload_actions(
        HOT, PTTL, dict.fromkeys(HOT, NS), {NS}, ManagedScope((NS,)), window, 100
    )
    return {k for a in actions for k in a.keys}


def test_without_a_forecast_only_missing_and_soon_expiring_keys_are_preloaded() -> None:
    assert _planned(None) == {b"rates:missing", b"rates:in-30-s"}
    # A peak beyond the horizon is not planned for.
    assert _planned(45) == {b"rates:missing", b"rates:in-30-s"}


def test_a_peak_within_the_horizon_also_preloads_keys_expiring_before_it() -> None:
    assert _planned(10) == {b"rates:missing", b"rates:in-30-s", b"rates:in-5-min"}
    window = preload_window(10, horizon_min=30)
    assert window.soon_ms == 10 * 60_000 + PRELOAD_SOON_MS
    assert "peak forecast in 10 min" in window.why
    # A peak under way (0 minutes) keeps the usual look-ahead but names the peak.
    assert preload_window(0, 30).soon_ms == PRELOAD_SOON_MS


def _forecast(
    resource: str, minutes: float | None, confidence: float, reason: str | None = None
) -> Forecast:
    return Forecast(resource, "trend", 50.0, 80.0, 10.0, 0.9, confidence, minutes, 60, reason)


def test_cpu_peak_reads_only_a_trusted_cpu_forecast() -> None:
    assert (
        CpuPeak(lambda: [_forecast("memory", 5, 0.9), _forecast("cpu", 12, 0.9)]).minutes_to_peak()
        == 12
    )
    assert CpuPeak(lambda: [_forecast("cpu", 12, 0.5)]).minutes_to_peak() is None
    assert CpuPeak(lambda: [_forecast("cpu", 12, 0.9, "too few points")]).minutes_to_peak() is None
    assert CpuPeak(lambda: [_forecast("cpu", None, 0.9)]).minutes_to_peak() is None
    assert CpuPeak(lambda: []).minutes_to_peak() is None


@dataclass
class FixedPeak:
    minutes: float | None

    def minutes_to_peak(self) -> float | None:
        return self.minutes


async def test_a_forecast_peak_preloads_hot_keys_that_would_expire_before_it(
    redis_client: aioredis.Redis, make_optimizer: MakeOptimizer
) -> None:
    loaded: list[bytes] = []

    async def load_rate(key: bytes) -> bytes:
        loaded.append(key)
        return b"fresh " + key

    cache = CacheClient(redis_client)
    cache.register_loader("rates:", load_rate)
    consumer = PreloadConsumer(cache, block_ms=50)
    await consumer.drain_once(block_ms=1)
    for i in range(3):
        await redis_client.set(f"rates:{i}".encode(), b"stale", px=600_000)  # 10 minutes left
        for _ in range(10):
            await cache.get(f"rates:{i}")
    await cache.flush()

    # No peak forecast: nothing is due within 60 s, so no preload is planned (plan only: the
    # forced run would also lengthen these hot keys' TTLs).
    quiet = make_optimizer("rates:", peak=FixedPeak(None))
    report = await quiet.report()
    assert {a.kind for a in report.actions} == {ActionKind.EXPIRE_KEYS}

    consuming = asyncio.create_task(_drain(consumer))
    try:
        peak = make_optimizer("rates:", peak=FixedPeak(15))
        _, outcomes = await peak.optimize(Trigger.FORCED)
    finally:
        consuming.cancel()
    preload = next(o for o in outcomes if o.action.kind is ActionKind.PRELOAD)
    assert preload.outcome is Outcome.APPLIED, preload.detail
    assert "peak forecast in 15 min" in preload.action.reason
    assert sorted(loaded) == [f"rates:{i}".encode() for i in range(3)]
    for i in range(3):
        key = f"rates:{i}".encode()
        assert await cache.get(key) == b"fresh " + key
        # Re-set through the client, so with its TTL (300 s default here, no policy yet).
        assert 0 < await redis_client.pttl(key) <= 300_000


async def _drain(consumer: PreloadConsumer) -> None:
    while True:
        await consumer.drain_once(block_ms=50)
