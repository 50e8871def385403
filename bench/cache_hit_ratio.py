"""Hit ratio of a fixed TTL against perfpilot's adaptive TTL + preloading, same workload and memory.

Used by ``bench/cache.py``. Each run gets its own fresh redis-server with the same ``maxmemory``
and eviction policy, and replays the same request sequence through ``CacheClient.get_or_load``
at the same pace: Zipf(1.1) popularity over ``keys`` rate documents whose ranking slides by
``keys / 20`` every phase (a "day": yesterday's hot dates cool, new ones heat up). The fixed run
keeps the client's default TTL. The adaptive run also runs the real Cache Optimizer
(``run_scheduled`` with auto-optimize up to low risk: TTL policy, key expiries and preloading
through the application's loader via the preload stream) twice per phase, in its own thread
and event loop as the service would, with a ``PreloadConsumer`` in the application's loop.
Hit ratios come from the client library's own counters (the optimizer's lookups are not in
them); memory is Redis's ``used_memory`` peak and ``evicted_keys``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import redis.asyncio as aioredis

from perfpilot.app import build_cache_optimizer
from perfpilot.cache import controlkeys as ck
from perfpilot.cache.client import CacheClient, ClientConfig
from perfpilot.cache.counters import merge, parse_bucket
from perfpilot.cache.preload_consumer import PreloadConsumer
from perfpilot.core.clock import SystemClock
from perfpilot.core.settings import CacheConfig, FileConfig, load_settings
from perfpilot.store import open_store

NAMESPACE = b"rates:"
BATCH_INTERVAL_S = 0.02


@dataclass(frozen=True)
class Workload:
    keys: int
    phases: int
    phase_s: float
    requests_per_s: int
    default_ttl_s: float
    maxmemory: str
    seed: int = 5

    def batches(self) -> list[list[np.ndarray]]:
        """Per phase, the key indexes of each batch (unique within a batch)."""
        rng = np.random.default_rng(self.seed)
        per_batch = max(1, int(self.requests_per_s * BATCH_INTERVAL_S))
        count = int(self.phase_s / BATCH_INTERVAL_S)
        out = []
        for phase in range(self.phases):
            ranks = rng.zipf(1.1, per_batch * count * 3)
            ranks = ranks[ranks <= self.keys][: per_batch * count] - 1
            shifted = (ranks + phase * (self.keys // 20)) % self.keys
            out.append([np.unique(b) for b in np.array_split(shifted, count)])
        return out


@dataclass(frozen=True)
class RunResult:
    hit_ratio: float
    phase_hit_ratios: tuple[float, ...]
    requests: int
    requests_per_s: float
    used_memory_peak_bytes: int
    evicted_keys: int
    keys_at_end: int
    final_ttl_ms: int | None


def document(index: int) -> bytes:
    """The application's value for one key: a day's rates for a room type, about 2 KB."""
    rows = [
        {"room": f"type-{index % 40}", "date": f"2026-12-{1 + i % 28:02d}", "rate": 80 + i % 9}
        for i in range(30)
    ]
    return json.dumps({"key": index, "rates": rows}).encode()


async def _client_counts(r: aioredis.Redis) -> tuple[int, int]:
    """Hits and misses the client library flushed for the namespace, all minutes summed."""
    buckets = [
        parse_bucket(cast(dict[bytes, bytes], await r.hgetall(key)))
        async for key in r.scan_iter(match=ck.STATS + b"*")
    ]
    counts = merge(buckets).get(NAMESPACE)
    return (counts.hits, counts.misses) if counts else (0, 0)


class ServiceThread:
    """The perfpilot service's side: one Cache Optimizer in its own thread and event loop."""

    def __init__(self, url: str, store_dir: Path, config: CacheConfig) -> None:
        env = {
            "REDIS_URL": url,
            "PERFORMANCE_CACHE_MANAGED_PREFIXES": NAMESPACE.decode(),
            "PERFORMANCE_AUTO_OPTIMIZE": "true",
        }
        settings = load_settings(env).model_copy(update={"file": FileConfig(cache=config)})
        self._store = open_store(f"sqlite:///{store_dir / 'store.db'}")
        self._store.migrate()
        self.optimizer = build_cache_optimizer(settings, self._store, SystemClock())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def optimize(self) -> asyncio.Future[str]:
        """A scheduled run (auto-optimize up to low risk), awaitable from the caller's loop."""
        done = asyncio.run_coroutine_threadsafe(self.optimizer.run_scheduled(), self._loop)
        return asyncio.wrap_future(done)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._store.close()


async def run(
    w: Workload, adaptive: bool, server: Callable[[], AbstractContextManager[str]]
) -> RunResult:
    """Replay the workload on a fresh server; with ``adaptive`` the optimizer runs alongside."""
    plan = w.batches()
    config = CacheConfig(
        default_ttl_s=w.default_ttl_s,
        ttl_min_s=w.default_ttl_s / 4,
        ttl_max_s=w.default_ttl_s * 32,
        target_hit_ratio=0.95,
        cold_idle_s=w.phase_s,
        max_preload_keys=200,
    )
    with server() as url, tempfile.TemporaryDirectory() as tmp:
        r = aioredis.Redis.from_url(url)
        await r.config_set("maxmemory", w.maxmemory)
        await r.config_set("maxmemory-policy", "allkeys-lru")
        client_cfg = ClientConfig(default_ttl_s=w.default_ttl_s, flush_interval_s=w.phase_s / 4)
        cache = CacheClient(r, client_cfg)

        async def load(key: bytes) -> bytes:
            return document(int(key[len(NAMESPACE) :]))

        cache.register_loader(NAMESPACE, load)
        consumer = PreloadConsumer(cache, block_ms=50)
        background = [asyncio.create_task(cache.run())]
        service = ServiceThread(url, Path(tmp), config) if adaptive else None
        if service is not None:
            background.append(asyncio.create_task(consumer.run()))
        phase_ratios = []
        requests = 0
        started = time.monotonic()
        try:
            for batches in plan:
                before = await _counts_now(cache, r)
                optimizing: list[asyncio.Future[str]] = []
                next_at = time.monotonic()
                for i, batch in enumerate(batches):
                    if service is not None and i in (len(batches) // 2, len(batches) - 1):
                        optimizing.append(service.optimize())
                    await asyncio.gather(
                        *(cache.get_or_load(NAMESPACE + str(k).encode()) for k in batch)
                    )
                    requests += len(batch)
                    next_at += BATCH_INTERVAL_S
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                for done in optimizing:
                    await done
                after = await _counts_now(cache, r)
                hits, misses = after[0] - before[0], after[1] - before[1]
                phase_ratios.append(hits / (hits + misses) if hits + misses else 0.0)
            elapsed = time.monotonic() - started
            total_hits, total_misses = await _counts_now(cache, r)
            memory = await r.info("memory")
            stats = await r.info("stats")
            policy = cast(bytes | None, await r.hget(ck.TTL_POLICY, NAMESPACE))
            keys = int(await r.dbsize())
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if service is not None:
                service.close()
            await cache.aclose()
            await r.aclose()
    return RunResult(
        hit_ratio=total_hits / (total_hits + total_misses),
        phase_hit_ratios=tuple(phase_ratios),
        requests=requests,
        requests_per_s=requests / elapsed,
        used_memory_peak_bytes=int(memory["used_memory_peak"]),
        evicted_keys=int(stats["evicted_keys"]),
        keys_at_end=keys,
        final_ttl_ms=int(policy.split(b",")[0]) if policy else None,
    )


async def _counts_now(cache: CacheClient, r: aioredis.Redis) -> tuple[int, int]:
    await cache.flush()
    return await _client_counts(r)


async def compare(
    w: Workload, server: Callable[[], AbstractContextManager[str]]
) -> dict[str, float]:
    """Both runs, as figures for the benchmark table."""
    out: dict[str, float] = {
        "hitratio.keys": float(w.keys),
        "hitratio.phases": float(w.phases),
    }
    for label, adaptive in (("fixed_ttl", False), ("adaptive", True)):
        res = await run(w, adaptive, server)
        prefix = f"hitratio.{label}"
        out[f"{prefix}.hit_ratio"] = res.hit_ratio
        out[f"{prefix}.last_phase_hit_ratio"] = res.phase_hit_ratios[-1]
        out[f"{prefix}.requests_per_s"] = res.requests_per_s
        out[f"{prefix}.used_memory_peak_mb"] = res.used_memory_peak_bytes / 2**20
        out[f"{prefix}.evicted_keys"] = float(res.evicted_keys)
        out[f"{prefix}.keys_at_end"] = float(res.keys_at_end)
        if res.final_ttl_ms is not None:
            out[f"{prefix}.final_ttl_s"] = res.final_ttl_ms / 1000
    out["hitratio.adaptive_minus_fixed"] = (
        out["hitratio.adaptive.hit_ratio"] - out["hitratio.fixed_ttl.hit_ratio"]
    )
    return out
