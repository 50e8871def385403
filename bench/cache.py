"""Cache Optimizer: sweep speed and Redis CPU, hot-key precision, compression cost.

    python bench/cache.py [--quick] [--output docs/benchmarks.md]

Runs against a private redis-server (allkeys-lfu, no persistence) started on a free port and
stopped at the end; the system Redis is never touched. Full mode writes its section of
``--output``; ``--quick`` (under 30 s) runs the same paths on smaller sizes and only prints.
A missed target is printed as MISS; it never changes the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import redis
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

import docsection
from cache_hit_ratio import Workload, compare
from perfpilot.cache.client import CacheClient, ClientConfig
from perfpilot.cache.codec import Codec, CompressionPolicy
from perfpilot.cache.sweep import SweepBudget, sweep
from perfpilot.cache.topk import DecayingTopK

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
SECTION_START = "<!-- bench/cache.py: start -->"
SECTION_END = "<!-- bench/cache.py: end -->"
REPRODUCE = ".venv/bin/python bench/cache.py"


@dataclass(frozen=True)
class Plan:
    sweep_keys: int
    zipf_keys: int
    zipf_accesses: int
    latency_ops: int
    big_ops: int
    workload: Workload


FULL = Plan(
    sweep_keys=200_000,
    zipf_keys=100_000,
    zipf_accesses=1_000_000,
    latency_ops=2000,
    big_ops=100,
    workload=Workload(
        keys=20_000, phases=6, phase_s=12, requests_per_s=1500, default_ttl_s=1.0, maxmemory="6mb"
    ),
)
QUICK = Plan(
    sweep_keys=10_000,
    zipf_keys=20_000,
    zipf_accesses=40_000,
    latency_ops=200,
    big_ops=5,
    workload=Workload(
        keys=4000, phases=3, phase_s=3, requests_per_s=2000, default_ttl_s=0.5, maxmemory="3mb"
    ),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def private_redis() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    workdir = Path(tempfile.mkdtemp(prefix="perfpilot-bench-redis-"))
    port = _free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    cmd += ["--maxmemory-policy", "allkeys-lfu", "--dir", str(workdir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


async def fill(r: aioredis.Redis, n: int) -> None:
    for start in range(0, n, 5000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + 5000)):
            pipe.set(f"ns{i % 20}:item:{i}".encode(), b"v" * 120, ex=3600 if i % 3 else None)
        await pipe.execute()


async def sweep_speed(r: aioredis.Redis, sweeper: aioredis.Redis, plan: Plan) -> dict[str, float]:
    """The sweep on ``sweeper``, a single-connection client like the optimizer's own."""
    await r.flushall()
    await fill(r, plan.sweep_keys)
    out: dict[str, float] = {}
    budget = SweepBudget(max_keys=10**9, time_s=600, cpu_share=1.0)
    for mode in ("script", "pipeline"):
        await r.config_resetstat()
        res = await sweep(sweeper, budget, lfu=True, use_script=mode == "script")
        out[f"sweep.{mode}.keys_per_s"] = res.keys_per_s or 0.0
        out[f"sweep.{mode}.redis_cpu_share"] = res.server_cpu_s / res.duration_s
        if mode == "script":
            stats = await r.info("commandstats")
            evalsha = stats.get("cmdstat_evalsha", {})
            out["sweep.script.block_ms_per_batch"] = float(evalsha.get("usec_per_call", 0)) / 1000
    out["sweep.keys"] = float(plan.sweep_keys)
    return out


def _precision(found: set[bytes], truth: set[bytes]) -> float:
    return len(found & truth) / len(truth)


async def hot_key_precision(r: aioredis.Redis, plan: Plan) -> dict[str, float]:
    await r.flushall()
    rng = np.random.default_rng(11)
    ranks = rng.zipf(1.1, plan.zipf_accesses * 2)
    ranks = ranks[ranks <= plan.zipf_keys][: plan.zipf_accesses]
    keys = [f"rates:{k}".encode() for k in range(plan.zipf_keys + 1)]
    values, counts = np.unique(ranks, return_counts=True)
    truth = {keys[v] for v in values[np.argsort(-counts, kind="stable")][:100]}
    sketch = DecayingTopK(capacity=1000)
    started = time.perf_counter()
    for k in ranks:
        sketch.observe(keys[k])
    sketch_ns = (time.perf_counter() - started) / len(ranks) * 1e9
    out = {
        "hotkeys.accesses": float(len(ranks)),
        "hotkeys.client_topk_precision_at_100": _precision({k for k, _ in sketch.top(100)}, truth),
        "hotkeys.client_topk_ns_per_access": sketch_ns,
    }
    await fill_keys(r, keys[1:])
    for start in range(0, len(ranks), 2000):
        pipe = r.pipeline(transaction=False)
        for k in ranks[start : start + 2000]:
            pipe.get(keys[k])
        await pipe.execute()
    res = await sweep(r, SweepBudget(max_keys=10**9, time_s=600, cpu_share=1.0), lfu=True)
    by_freq = sorted(res.readings, key=lambda x: -(x.freq or 0))[:100]
    out["hotkeys.object_freq_precision_at_100"] = _precision({x.key for x in by_freq}, truth)
    return out


async def fill_keys(r: aioredis.Redis, keys: list[bytes]) -> None:
    for start in range(0, len(keys), 5000):
        pipe = r.pipeline(transaction=False)
        for key in keys[start : start + 5000]:
            pipe.set(key, b"v")
        await pipe.execute()


def _json_doc(size: int) -> bytes:
    """A JSON list of reservation records of about ``size`` bytes."""

    def row(i: int) -> dict[str, object]:
        return {
            "reservation": 100000 + i,
            "guest": f"guest-{i % 97}",
            "room": 100 + i % 40,
            "check_in": "2026-12-01",
            "nights": 1 + i % 6,
            "status": "confirmed",
        }

    count = max(1, size // (len(json.dumps(row(0))) + 2))
    return json.dumps([row(i) for i in range(count)]).encode()


# The measured operations take turns in blocks of this many, the first of each round rotating,
# so the shared machine's drift (other tenants, frequency changes) lands on every side alike
# instead of on whichever ran last; within a block one operation repeats back to back as in a
# stream of SETs.
BLOCK = 25


async def _interleaved_p50_ms(ops: list[Callable[[], Awaitable[object]]], n: int) -> list[float]:
    """p50 in ms of each operation, ``n`` calls each, in rotating blocks."""
    times: list[list[float]] = [[] for _ in ops]
    for round_ in range(max(1, n // BLOCK)):
        for i in range(len(ops)):
            side = (round_ + i) % len(ops)
            op, sink = ops[side], times[side]
            for _ in range(BLOCK):
                started = time.perf_counter()
                await op()
                sink.append((time.perf_counter() - started) * 1000)
    return [statistics.median(t) for t in times]


def _encode_us(codec: Codec, doc: bytes, n: int) -> float:
    """Median microseconds of one ``codec.encode`` of ``doc`` (in-process, warm caches)."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        codec.encode(doc)
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


async def compression(r: aioredis.Redis, plan: Plan) -> dict[str, float]:
    await r.flushall()
    cache = CacheClient(r)
    # The same client with compression off: what compression itself costs, beside the target.
    bare = CacheClient(r, ClientConfig(compression=CompressionPolicy(min_bytes=1 << 62)))
    out: dict[str, float] = {}
    for label, size, n in (("10kb", 10_000, plan.latency_ops), ("1mb", 1_000_000, plan.big_ops)):
        doc = _json_doc(size)
        out[f"compression.{label}.ratio"] = len(doc) / len(Codec().encode(doc))
        preset = Codec(CompressionPolicy(small_value_bytes=0))
        out[f"compression.{label}.ratio_level3_preset"] = len(doc) / len(preset.encode(doc))
        out[f"compression.{label}.encode_us"] = _encode_us(Codec(), doc, n)
        out[f"compression.{label}.encode_us_level3_preset"] = _encode_us(preset, doc, n)
        raw_key, key = f"plain:{label}".encode(), f"rates:{label}".encode()
        await r.set(raw_key, doc)
        await cache.set(key, doc, ttl_s=3600)
        await bare.set(b"bare:" + key, doc, ttl_s=3600)
        gets = [partial(r.get, raw_key), partial(cache.get, key), partial(bare.get, b"bare:" + key)]
        sets = [
            partial(r.set, raw_key, doc),
            partial(cache.set, key, doc, 3600),
            partial(bare.set, b"bare:" + key, doc, 3600),
        ]
        for op, calls in (("get", gets), ("set", sets)):
            plain, ours, uncompressed = await _interleaved_p50_ms(calls, n)
            out[f"compression.{label}.{op}_p50_ms_plain"] = plain
            out[f"compression.{label}.{op}_p50_ms_client"] = ours
            out[f"compression.{label}.{op}_p50_ms_client_uncompressed"] = uncompressed
            out[f"compression.{label}.{op}_added_pct"] = (ours / plain - 1) * 100
            out[f"compression.{label}.{op}_compression_cost_pct"] = (ours / uncompressed - 1) * 100
    return out


TARGETS: dict[str, tuple[str, float]] = {
    # The sweep targets: >= 25k keys/s through redis-py (the pipeline), >= 50k when
    # one server-side script per batch blocks Redis under 2 ms (see ``target_of``).
    "sweep.pipeline.keys_per_s": (">=", 25_000),
    "sweep.script.keys_per_s": (">=", 25_000),
    "hotkeys.client_topk_precision_at_100": (">=", 0.95),
    "compression.10kb.ratio": (">=", 4.0),
    "compression.10kb.get_added_pct": ("<=", 10.0),
    "compression.1mb.get_added_pct": ("<=", 10.0),
    "compression.10kb.set_added_pct": ("<=", 10.0),
}


# A script batch that blocks Redis for less than this must reach the higher sweep target.
SCRIPT_BLOCK_LIMIT_MS = 2.0


def target_of(name: str, figures: dict[str, float]) -> tuple[str, float] | None:
    """The target a figure is held to; the scripted sweep's depends on its block time."""
    if name == "sweep.script.keys_per_s":
        block = figures.get("sweep.script.block_ms_per_batch", float("inf"))
        return (">=", 50_000 if block < SCRIPT_BLOCK_LIMIT_MS else 25_000)
    return TARGETS.get(name)


def verdict(name: str, value: float, figures: dict[str, float]) -> str:
    found = target_of(name, figures)
    if found is None:
        return "reported"
    op, target = found
    ok = value >= target if op == ">=" else value <= target
    return f"{'PASS' if ok else 'MISS'} ({op} {target:g})"


async def measure(plan: Plan) -> dict[str, float]:
    with private_redis() as url:
        r = aioredis.Redis.from_url(url)
        sweeper = aioredis.Redis.from_url(url, single_connection_client=True)
        try:
            figures = await sweep_speed(r, sweeper, plan)
            figures |= await hot_key_precision(r, plan)
            figures |= await compression(r, plan)
        finally:
            await sweeper.aclose()
            await r.aclose()
    # Each run of the comparison starts its own server with the same maxmemory.
    figures |= await compare(plan.workload, private_redis)
    return figures


def section(figures: dict[str, float]) -> str:
    rows = [f"| `{k}` | {v:,.3f} | {verdict(k, v, figures)} |" for k, v in figures.items()]
    return "\n".join(
        [
            SECTION_START,
            "## Cache Optimizer",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on"
            f" {platform.processor() or platform.machine()}, Python {platform.python_version()},"
            f" redis-py {redis.__version__}"
            f" {'with' if HIREDIS_AVAILABLE else 'without'} the hiredis reply parser,"
            " a private Redis 7.0 (allkeys-lfu) on loopback."
            f" Reproduce: `{REPRODUCE}`",
            "",
            "Sweep: every key read with TYPE, PTTL, MEMORY USAGE SAMPLES 5 and OBJECT FREQ, by one",
            "Lua script per 200 keys (`script`) or, where scripting is refused, by the plain",
            "commands (`pipeline`); either way one packed write per SCAN step on the",
            "single connection of the sweep's client, as in the optimizer. Redis CPU share is",
            "the server's user+system CPU over the sweep's wall time; block time is EVALSHA's",
            "mean server time per batch. Hot keys: Zipf(1.1)",
            "over 100k keys; precision at 100 of the client library's Space-Saving top-K",
            "(capacity 1000) and of OBJECT FREQ after the same reads as GETs, against exact",
            "counts.",
            "",
            "Compression: JSON reservation documents through `CacheClient` (zstd; values up to",
            "64 KB with the small-table fast profile, larger ones at level 3) against redis-py",
            "GET/SET of the plain document and against the same client with compression off",
            "(`client_uncompressed`; `compression_cost_pct` is what compression itself adds), p50",
            f"over `latency_ops` calls each, the three taking turns in blocks of {BLOCK} so the",
            "shared machine's drift falls on all alike. The client sends GET and SET packed by",
            "itself with one deadline per call (`perfpilot.cache.packed`), which costs less than",
            "redis-py's generic command path; that saving is what pays for compression at 10 KB.",
            "`encode_us` is one encode in a tight loop (warm caches) with the profile used and",
            "with the level-3 preset, `ratio_level3_preset` the preset's ratio: the baseline for",
            "the profile choice, measured in the same run.",
            "",
            "Hit ratio (`bench/cache_hit_ratio.py`): the same request sequence through",
            "`CacheClient.get_or_load` at the same pace, Zipf(1.1) over 20k rate documents",
            "(~2 KB JSON) whose ranking slides by 1/20 of the keys every 12 s phase, 6 phases;",
            "each run on a fresh redis-server with maxmemory 6 MB, allkeys-lru. `fixed_ttl` keeps",
            "the client's 1 s TTL; `adaptive` also runs the real Cache Optimizer's scheduled run",
            "(auto-optimize, low risk: TTL policy toward 0.95 within 0.25-32 s, hot/cold key",
            "expiries, preloading through the application's loader) twice per phase in its own",
            "thread and event loop.",
            "Hit ratios from the client's own counters; `requests_per_s` is the pace reached.",
            "",
            "| figure | value | target |",
            "| --- | ---: | --- |",
            *rows,
            "",
            SECTION_END,
        ]
    )


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path``, keeping everything else."""
    docsection.write_section(path, text, SECTION_START, SECTION_END)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(QUICK if args.quick else FULL))
    for name, value in figures.items():
        print(f"{name} = {value:.6g}  [{verdict(name, value, figures)}]")
    if not args.quick:
        write_section(args.output, section(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
