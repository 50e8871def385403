"""A short benchmark of the targets: PostgreSQL, Redis, the store's disk and the CPU.

Each probe repeats one operation for its share of ``duration_s`` and reports p50/p99 latency
(milliseconds) and operations per second; a probe whose target is down reports the reason and
no figures. Every probe blocks and runs in a worker thread. The previous run is kept (store).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import psycopg
import redis

from perfpilot.core.clock import Clock
from perfpilot.database.connection import APPLICATION_NAME
from perfpilot.optimizer.ports import BenchmarkResults

MAX_DURATION_S = 60.0
VALUE_1KB = b"x" * 1024
# The reference query: a primary-key lookup on a 10 000-row table the benchmark creates as a
# temporary table (gone with the session), so nothing of the user's schema is touched.
_BENCH_TABLE = """/* perfpilot */ CREATE TEMP TABLE perfpilot_bench AS
SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g"""
_BENCH_KEY = "/* perfpilot */ ALTER TABLE perfpilot_bench ADD PRIMARY KEY (id)"
_BENCH_QUERY = "/* perfpilot */ SELECT v FROM perfpilot_bench WHERE id = %s"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    name: str
    operation: str
    samples: int
    p50_ms: float | None
    p99_ms: float | None
    ops_per_s: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BenchmarkRun:
    at: datetime
    duration_s: float
    probes: tuple[ProbeResult, ...]


class RateLimited(RuntimeError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"one benchmark per period: retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def _timed(name: str, operation: str, seconds: float, op: Callable[[int], object]) -> ProbeResult:
    """Repeat ``op`` for ``seconds``; latencies of each call."""
    latencies: list[float] = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        op(i)
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    elapsed = time.perf_counter() - start
    arr = np.array(latencies)
    return ProbeResult(
        name, operation, len(latencies), round(float(np.percentile(arr, 50)), 4),
        round(float(np.percentile(arr, 99)), 4), round(len(latencies) / elapsed, 1),
    )  # fmt: skip


def _failed(name: str, operation: str, exc: Exception) -> ProbeResult:
    return ProbeResult(name, operation, 0, None, None, None, f"{type(exc).__name__}: {exc}")


def postgres_probes(dsn: str, seconds: float) -> list[ProbeResult]:
    try:
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
        ) as conn:
            rt = _timed("postgres_round_trip", "SELECT 1", seconds,
                        lambda _: conn.execute("/* perfpilot */ SELECT 1").fetchone())  # fmt: skip
            conn.execute(_BENCH_TABLE)
            conn.execute(_BENCH_KEY)
            ref = _timed(
                "postgres_reference_query",
                "primary-key lookup, 10k rows",
                seconds,
                lambda i: conn.execute(_BENCH_QUERY, (i % 10000 + 1,)).fetchone(),
            )
            return [rt, ref]
    except psycopg.Error as exc:
        return [_failed("postgres_round_trip", "SELECT 1", exc)]


def redis_probe(url: str, seconds: float) -> ProbeResult:
    # perfpilot's own key, expiring by itself even if the run is cut short.
    key = f"perfpilot:bench:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:

        def set_get(_: int) -> None:
            client.set(key, VALUE_1KB, ex=60)
            client.get(key)

        return _timed("redis_set_get_1kb", "SET + GET of 1 KB", seconds, set_get)
    except redis.exceptions.RedisError as exc:
        return _failed("redis_set_get_1kb", "SET + GET of 1 KB", exc)
    finally:
        try:
            client.delete(key)
        except redis.exceptions.RedisError as exc:
            _ = exc  # the key expires in 60 s anyway
        client.close()


def fsync_probe(directory: Path, seconds: float) -> ProbeResult:
    try:
        fd, path = tempfile.mkstemp(prefix=".perfpilot-bench-", dir=directory)
    except OSError as exc:
        return _failed("store_fsync_4kb", f"write 4 KB + fsync in {directory}", exc)
    try:
        block = b"\0" * 4096

        def write_sync(_: int) -> None:
            os.pwrite(fd, block, 0)
            os.fsync(fd)

        return _timed("store_fsync_4kb", f"write 4 KB + fsync in {directory}", seconds, write_sync)
    finally:
        os.close(fd)
        os.unlink(path)


def cpu_probe(seconds: float) -> ProbeResult:
    data = b"p" * 1024
    return _timed("cpu_sha256_1kb_x100", "100 x sha256 of 1 KB", seconds,
                  lambda _: [hashlib.sha256(data).digest() for _ in range(100)])  # fmt: skip


class Benchmark:
    """Runs the probes, at most once per ``min_interval_s``; keeps the previous run."""

    def __init__(
        self, dsn: str, redis_url: str, store_dir: Path, results: BenchmarkResults,
        clock: Clock, min_interval_s: float,
    ) -> None:  # fmt: skip
        self._dsn, self._redis, self._dir = dsn, redis_url, store_dir
        self._results, self._clock, self._min_interval_s = results, clock, min_interval_s
        self._last: datetime | None = None
        self._lock = asyncio.Lock()

    async def run(self, duration_s: float) -> tuple[BenchmarkRun, BenchmarkRun | None]:
        """This run and the previous one; raises RateLimited inside the minimum interval."""
        now = self._clock.now()
        if self._lock.locked():
            raise RateLimited(self._min_interval_s)
        if self._last is not None:
            waited = (now - self._last).total_seconds()
            if waited < self._min_interval_s:
                raise RateLimited(self._min_interval_s - waited)
        async with self._lock:
            self._last = now
            share = duration_s / 5
            previous = await asyncio.to_thread(self._results.latest_benchmark)
            pg = await asyncio.to_thread(postgres_probes, self._dsn, share)
            probes = [
                *pg,
                await asyncio.to_thread(redis_probe, self._redis, share),
                await asyncio.to_thread(fsync_probe, self._dir, share),
                await asyncio.to_thread(cpu_probe, share),
            ]
            run = BenchmarkRun(now, duration_s, tuple(probes))
            await asyncio.to_thread(self._results.save_benchmark, now, to_json(run))
        return run, None if previous is None else from_json(previous)


def to_json(run: BenchmarkRun) -> str:
    body = asdict(run)
    body["at"] = run.at.isoformat()
    return json.dumps(body)


def from_json(text: str) -> BenchmarkRun:
    body = json.loads(text)
    probes = tuple(ProbeResult(**p) for p in body["probes"])
    return BenchmarkRun(datetime.fromisoformat(body["at"]), float(body["duration_s"]), probes)
