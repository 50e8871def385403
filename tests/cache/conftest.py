"""Cache Optimizer fixtures: an optimizer on the session Redis with a SQLite store per test."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from tests.ports import free_port

from perfpilot.app import build_cache_optimizer
from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.cache.ports import PeakForecast
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import CacheConfig, FileConfig, load_settings
from perfpilot.store import Store, open_store

from ..conftest import RedisServer

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

    def make(
        prefixes: str = "",
        peak: PeakForecast | None = None,
        url: str | None = None,
        **cache: object,
    ) -> CacheOptimizer:
        env = {"REDIS_URL": redis_url, "PERFORMANCE_CACHE_MANAGED_PREFIXES": prefixes}
        settings = load_settings(env)
        settings = settings.model_copy(
            update={"file": FileConfig(cache=CacheConfig.model_validate(cache))}
        )
        return build_cache_optimizer(settings, store, clock, url=url, peak=peak)

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


@pytest.fixture
def replica_url(redis_server: RedisServer, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A second redis-server, a read-only replica of the session one, in sync; stopped after."""
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    cmd += ["--dir", str(tmp_path), "--replicaof", redis_server.host, str(redis_server.port)]
    primary = redis.Redis(host=redis_server.host, port=redis_server.port)
    # Redis 7 waits 5 s for more replicas before a diskless full sync; one is all there is.
    delay = primary.config_get("repl-diskless-sync-delay")["repl-diskless-sync-delay"]
    primary.config_set("repl-diskless-sync-delay", 0)
    with (tmp_path / "replica.log").open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.info("replication").get("master_link_status") == "up":
                    break
            except redis.ConnectionError:
                pass  # not listening yet
            assert proc.poll() is None, (tmp_path / "replica.log").read_text()
            assert time.monotonic() < deadline, "replica did not sync within 20 s"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        primary.config_set("repl-diskless-sync-delay", delay)
        primary.close()
