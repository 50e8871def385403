"""Performance Scheduler: start-time lateness (target p99 < 100 ms) and idle CPU.

    python bench/scheduler_lateness.py [--quick] [--output docs/benchmarks.md]

The engine under test is the real one (croniter triggers, the serve loop, a SQLite store with
run records written per run, the local run lock), with the real clock and real sleeps.

Lateness is the time from a cron fire time to the moment the task function starts. Cron
fires at most once a minute, so to collect many fire times in little time the wall clock is
moved forward before each sample until the next minute boundary is 0.2-0.6 s ahead, and the
loop is woken to recompute its sleep (as it does after a task change); the sleep that follows
and everything after it is real. Full mode also waits for two genuine minute boundaries
without moving the clock. Idle CPU is the process's CPU time while the loop waits for a fire
time far ahead, next to a baseline of the same event loop without the scheduler.

Full mode writes its section of ``--output``; ``--quick`` runs the same paths briefly and only
prints. A missed target is printed as MISS; it never changes the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docsection
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import EngineConfig, Scheduler
from perfpilot.scheduler.task import ScheduledTask
from perfpilot.store import open_store
from perfpilot.store.run_lock import LocalRunLock
from perfpilot.store.scheduler_runs import SqlRunHistory

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
REPRODUCE = ".venv/bin/python bench/scheduler_lateness.py"
SECTION_START = "<!-- bench/scheduler_lateness.py: start -->"
SECTION_END = "<!-- bench/scheduler_lateness.py: end -->"
TARGET_P99_MS = 100.0


@dataclass(frozen=True)
class Plan:
    warped_fires: int
    real_fires: int
    idle_s: float


FULL = Plan(warped_fires=200, real_fires=2, idle_s=60.0)
QUICK = Plan(warped_fires=15, real_fires=0, idle_s=3.0)


class WarpClock:
    """The system clock plus an offset that only grows; monotonic time is not moved."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Result:
    warped_ms: list[float]
    real_ms: list[float]
    idle_cpu_percent: float
    baseline_cpu_percent: float


def next_boundary(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def lateness(plan: Plan, workdir: Path) -> tuple[list[float], list[float], float]:
    clock = WarpClock()
    store = open_store(f"sqlite:///{workdir / 'bench.db'}")
    store.migrate()
    fired: asyncio.Queue[float] = asyncio.Queue()

    async def probe() -> str:
        started = clock.now()
        fired.put_nowait((started - next_boundary(started - timedelta(minutes=1))).total_seconds())
        return "probe"

    registry = TaskRegistry()
    registry.register("probe", probe)
    task = ScheduledTask("probe", "probe", "* * * * *", "probe", timezone="UTC")
    config = EngineConfig(runner="bench", misfire_grace_s=30.0)
    scheduler = Scheduler(
        [task], registry, SqlRunHistory(store.runner), LocalRunLock(), clock, config
    )
    loop = asyncio.create_task(scheduler.serve())
    rng = random.Random(1)
    warped: list[float] = []
    real: list[float] = []
    try:
        await scheduler.restore()
        for _ in range(plan.warped_fires):
            now = clock.now()
            ahead = rng.uniform(0.2, 0.6)
            boundary = next_boundary(now)
            if (boundary - now).total_seconds() < ahead:
                boundary += timedelta(minutes=1)
            clock.offset += boundary - now - timedelta(seconds=ahead)
            scheduler.wake()
            warped.append(await asyncio.wait_for(fired.get(), timeout=10) * 1000)
            await scheduler.wait_attempts()
        for _ in range(plan.real_fires):
            real.append(await asyncio.wait_for(fired.get(), timeout=75) * 1000)
            await scheduler.wait_attempts()
        await asyncio.sleep(0.2)
        idle_start = time.process_time()
        await asyncio.sleep(plan.idle_s)
        idle = (time.process_time() - idle_start) / plan.idle_s * 100
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        store.close()
    return warped, real, idle


async def baseline(idle_s: float) -> float:
    start = time.process_time()
    await asyncio.sleep(idle_s)
    return (time.process_time() - start) / idle_s * 100


def run(plan: Plan) -> Result:
    with tempfile.TemporaryDirectory(prefix="perfpilot-bench-") as tmp:
        warped, real, idle = asyncio.run(lateness(plan, Path(tmp)))
    base = asyncio.run(baseline(plan.idle_s))
    return Result(warped, real, idle, base)


def figures(result: Result) -> dict[str, str]:
    all_ms = result.warped_ms + result.real_ms
    p99 = percentile(all_ms, 99)
    return {
        "lateness.fires": str(len(all_ms)),
        "lateness.real_minute_fires": str(len(result.real_ms)),
        "lateness.p50_ms": f"{statistics.median(all_ms):.2f}",
        "lateness.p99_ms": f"{p99:.2f}",
        "lateness.max_ms": f"{max(all_ms):.2f}",
        "lateness.real_max_ms": f"{max(result.real_ms):.2f}" if result.real_ms else "n/a",
        "lateness.target": f"{'ok' if p99 < TARGET_P99_MS else 'MISS'}"
        f" (p99 < {TARGET_P99_MS:g} ms)",
        "idle.cpu_percent": f"{result.idle_cpu_percent:.3f}",
        "idle.baseline_cpu_percent": f"{result.baseline_cpu_percent:.3f}",
    }


def markdown(result: Result, plan: Plan) -> str:
    f = figures(result)
    return "\n".join(
        [
            SECTION_START,
            "## Performance Scheduler: start lateness and idle CPU",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on"
            f" {platform.processor() or platform.machine()}, Python"
            f" {platform.python_version()}. Reproduce: `{REPRODUCE}`",
            "",
            "Lateness: fire time to the task function's first line, through the real serve loop,",
            "croniter, a SQLite run record per run and the local run lock. "
            f"{plan.warped_fires} fire times come from moving the wall clock to 0.2-0.6 s before",
            "a minute boundary and waking the loop (the sleep and all after it are real);",
            f"{len(result.real_ms)} are genuine minute boundaries with no clock change.",
            "",
            "| figure | value |",
            "| --- | --- |",
            *(f"| {key} | {value} |" for key, value in f.items()),
            "",
            f"Idle CPU: the process's CPU time over {plan.idle_s:g} s while the loop waits for",
            "the next fire time (it wakes at least once a minute), next to the same event loop",
            "without the scheduler.",
            SECTION_END,
            "",
        ]
    )


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path``, keeping everything else."""
    docsection.write_section(path, text, SECTION_START, SECTION_END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run; prints, writes nothing")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    result = run(plan)
    for key, value in figures(result).items():
        print(f"{key} = {value}")
    if not args.quick:
        write_section(args.output, markdown(result, plan))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
