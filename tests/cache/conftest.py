"""Cache Optimizer fixtures: an optimizer on the session Redis with a SQLite store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from perfpilot.app import build_cache_optimizer
from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import CacheConfig, FileConfig, load_settings
from perfpilot.store import Store, open_store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MakeOptimizer = Callable[..., CacheOptimizer]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'perfpilot.db'}")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def make_optimizer(redis_url: str, store: Store, clock: ManualClock) -> MakeOptimizer:
    """An optimizer with ``prefixes`` managed and ``[cache]`` fields from keyword arguments."""

    def make(prefixes: str = "", **cache: object) -> CacheOptimizer:
        env = {"REDIS_URL": redis_url, "PERFORMANCE_CACHE_MANAGED_PREFIXES": prefixes}
        settings = load_settings(env)
        settings = settings.model_copy(
            update={"file": FileConfig(cache=CacheConfig.model_validate(cache))}
        )
        return build_cache_optimizer(settings, store, clock)

    return make


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def lfu(redis_url: str) -> Iterator[None]:
    """The session Redis with allkeys-lfu for the test (OBJECT FREQ), restored afterwards."""
    client = redis.Redis.from_url(redis_url)
    before = client.config_get("maxmemory-policy")["maxmemory-policy"]
    client.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        yield
    finally:
        client.config_set("maxmemory-policy", before)
        client.close()
