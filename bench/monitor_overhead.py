"""Resource Monitor overhead: idle CPU, memory of 24 h of history, and API latency under load.

    python bench/monitor_overhead.py [--quick] [--output docs/benchmarks.md]

Every figure is measured against the real service, started as ``python -m perfpilot serve`` on
a free port with a temporary SQLite store; each comes with a baseline measured in the same run.
Full mode writes its section of ``--output``; ``--quick`` runs the same code paths with short
durations and only prints. A missed target is printed and written as MISS; it never changes the
exit code, which is non-zero only when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

import docsection
from perfpilot.core.clock import SystemClock
from perfpilot.core.settings import MonitorConfig
from perfpilot.monitor.history import SeriesHistory, history_capacity
from perfpilot.monitor.sample import numeric_series
from perfpilot.monitor.sampler import HostSampler

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
REPRODUCE = ".venv/bin/python bench/monitor_overhead.py"
SECTION_START = "<!-- bench/monitor_overhead.py: start -->"
SECTION_END = "<!-- bench/monitor_overhead.py: end -->"

RATE_PER_S = 200
TARGET_CPU_PERCENT = 1.0
TARGET_HISTORY_MB = 50.0
TARGET_P99_MS = 20.0
REQUEST_TIMEOUT_S = 5.0
MB = 1024 * 1024
LOADED_PATHS = ("/healthz", "/metrics", "/api/v1/performance/metrics")
# Inherited settings would change what is measured; the benchmark sets its own.
INHERITED_PREFIXES = ("PERFORMANCE_", "AUTO_SCALING_", "DATABASE_URL", "REDIS_URL")


@dataclass(frozen=True)
class Durations:
    warmup_s: float
    cpu_window_s: float
    load_s: float
    history_hours: float


FULL = Durations(warmup_s=5, cpu_window_s=60, load_s=30, history_hours=24)
QUICK = Durations(warmup_s=2, cpu_window_s=3, load_s=2, history_hours=1)


@dataclass(frozen=True)
class IdleCpu:
    interval_s: float | None  # None: monitoring disabled (the baseline)
    percent_of_core: float


@dataclass(frozen=True)
class HistoryFootprint:
    interval_s: float
    hours: float
    samples: int
    series: int
    nbytes: int
    rss_growth_bytes: int


@dataclass(frozen=True)
class Latency:
    path: str
    sent: int
    errors: int
    achieved_rate_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float
    server_cpu_percent: float
    others_cpu_percent: float


@dataclass(frozen=True)
class Report:
    started: datetime
    durations: Durations
    machine: dict[str, str]
    others_idle_cpu_percent: float
    cpu: list[IdleCpu]
    history: list[HistoryFootprint]
    samples_before_load: int | None
    latency: list[Latency]


# --- the service under test -------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def server_env(workdir: Path, name: str, interval_s: float | None) -> dict[str, str]:
    """Environment of one service: its own store, config and port; PostgreSQL and Redis on a
    closed port, so they show as unavailable and their checks retry with backoff."""
    config = workdir / f"{name}.toml"
    config.write_text(f"[monitor]\ninterval_s = {interval_s or 5}\n", encoding="utf-8")
    closed = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    return env | {
        "PERFORMANCE_CONFIG_FILE": str(config),
        "PERFORMANCE_STORE_URL": f"sqlite:///{workdir / name}.db",
        "PERFORMANCE_HOST": "127.0.0.1",
        "PERFORMANCE_PORT": str(free_port()),
        "PERFORMANCE_MONITORING_ENABLED": "false" if interval_s is None else "true",
        "DATABASE_URL": f"postgresql://bench@127.0.0.1:{closed}/bench",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
    }


def start_server(workdir: Path, name: str, interval_s: float | None) -> Server:
    """Start ``python -m perfpilot serve`` with output to a log file (not a pipe that fills)."""
    env = server_env(workdir, name, interval_s)
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "perfpilot", "serve"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(process, f"http://127.0.0.1:{env['PERFORMANCE_PORT']}", log)


def wait_healthy(server: Server, timeout_s: float = 60.0) -> None:
    """Poll /healthz until it answers 200; raises with the log tail if the service dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{log_tail(server)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"service not healthy after {timeout_s:.0f}s:\n{log_tail(server)}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def log_tail(server: Server, lines: int = 30) -> str:
    return "\n".join(server.log.read_text(errors="replace").splitlines()[-lines:])


# --- 1. idle CPU --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process itself (children not included)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def busy_host_seconds() -> float:
    """CPU seconds the whole host spent on anything but idle and I/O wait, all cores summed."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


@dataclass(frozen=True)
class CpuReading:
    wall_s: float
    host_s: float
    by_pid: dict[int, float]


def read_cpu(pids: Iterable[int]) -> CpuReading:
    """Wall clock, busy host CPU and the CPU of each of ``pids``, read together."""
    return CpuReading(time.perf_counter(), busy_host_seconds(), {p: cpu_seconds(p) for p in pids})


def pid_percent(before: CpuReading, after: CpuReading, pid: int) -> float:
    """CPU of ``pid`` between two readings, in percent of one core."""
    return (after.by_pid[pid] - before.by_pid[pid]) / (after.wall_s - before.wall_s) * 100


def others_percent(before: CpuReading, after: CpuReading) -> float:
    """CPU of every process not read (other engineers' tests, the OS), in percent of one core:
    how noisy the host was during the window."""
    ours = sum(after.by_pid[p] - before.by_pid[p] for p in before.by_pid)
    others = (after.host_s - before.host_s - ours) / (after.wall_s - before.wall_s) * 100
    # Host and process times tick at 10 ms, so on a quiet host the difference can dip below 0.
    return max(0.0, others)


def measure_idle_cpu(
    servers: dict[float | None, Server], window_s: float
) -> tuple[list[IdleCpu], float]:
    """CPU of each idle service over the same wall-clock window, in percent of one core, and
    that of every other process on the host."""
    pids = [s.process.pid for s in servers.values()]
    before = read_cpu([*pids, os.getpid()])
    time.sleep(window_s)
    after = read_cpu([*pids, os.getpid()])
    idle = [IdleCpu(k, pid_percent(before, after, s.process.pid)) for k, s in servers.items()]
    return idle, others_percent(before, after)


# --- 2. memory of the history -------------------------------------------------------------------


def history_footprint_here(hours: float, interval_s: float) -> HistoryFootprint:
    """Fill a SeriesHistory in this process with the series the real sampler yields here."""
    config = MonitorConfig()
    clock = SystemClock()
    sampler = HostSampler(clock, disk_mounts=config.disk_mounts, cgroup_root=config.cgroup_root)
    # The first sample has no CPU percent or rates (no previous counters); the second has all.
    # A running service always passes an event-loop lag, so this one does too.
    sampler.sample(clock.now(), 0.0)
    time.sleep(0.5)
    series = numeric_series(sampler.sample(clock.now(), 0.0))
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    history = SeriesHistory(capacity=history_capacity(hours, interval_s))
    fill(history, series, interval_s)
    gc.collect()
    rss_after = psutil.Process().memory_info().rss
    return HistoryFootprint(
        interval_s, hours, len(history), len(series), history.nbytes, rss_after - rss_before
    )


def fill(history: SeriesHistory, series: dict[str, float], interval_s: float) -> None:
    """Append ``capacity`` samples ending now; each value wobbles around the real reading."""
    start = datetime.now(UTC) - timedelta(seconds=interval_s * history.capacity)
    for i in range(history.capacity):
        wobble = 1.0 + 0.05 * math.sin(i / 60.0)
        values = {name: value * wobble for name, value in series.items()}
        history.append(start + timedelta(seconds=interval_s * i), values)


def measure_history(hours: float, interval_s: float) -> HistoryFootprint:
    """Run history_footprint_here in a fresh interpreter, so its RSS holds nothing else."""
    command = [sys.executable, __file__, "--history-child", str(hours), str(interval_s)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    return HistoryFootprint(**json.loads(done.stdout.splitlines()[-1]))


# --- 3. latency under load ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    scheduled_s: float
    sent_s: float
    latency_s: float
    ok: bool


async def timed_get(client: httpx.AsyncClient, path: str, scheduled_s: float) -> Outcome:
    """One GET; latency runs from the scheduled send time, so a stall delays no later request
    unseen (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    try:
        response = await client.get(path)
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    return Outcome(scheduled_s, sent, loop.time() - scheduled_s, ok)


async def paced_load(url: str, path: str, rate_per_s: float, duration_s: float) -> list[Outcome]:
    """Open loop: request i is issued at start + i / rate whether or not earlier ones returned."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(5):  # open a connection before the clock starts
            await client.get(path)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        for i in range(int(duration_s * rate_per_s)):
            scheduled = start + i / rate_per_s
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            tasks.append(asyncio.create_task(timed_get(client, path, scheduled)))
        return list(await asyncio.gather(*tasks))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(
    path: str, outcomes: list[Outcome], server_cpu_percent: float, others_cpu_percent: float
) -> Latency:
    """Latency percentiles over every request (errors included at the time they took)."""
    latencies_ms = [o.latency_s * 1000 for o in outcomes]
    sends = [o.sent_s for o in outcomes]
    span_s = max(sends) - min(sends)
    return Latency(
        path=path,
        sent=len(outcomes),
        errors=sum(not o.ok for o in outcomes),
        achieved_rate_per_s=(len(outcomes) - 1) / span_s if span_s > 0 else math.nan,
        p50_ms=percentile(latencies_ms, 50),
        p99_ms=percentile(latencies_ms, 99),
        max_ms=max(latencies_ms),
        send_lag_p99_ms=percentile([(o.sent_s - o.scheduled_s) * 1000 for o in outcomes], 99),
        server_cpu_percent=server_cpu_percent,
        others_cpu_percent=others_cpu_percent,
    )


def samples_taken(url: str) -> int | None:
    """perfpilot_monitor_samples_total from /metrics; None when absent."""
    for line in httpx.get(f"{url}/metrics", timeout=REQUEST_TIMEOUT_S).text.splitlines():
        if line.startswith("perfpilot_monitor_samples_total "):
            return int(float(line.split()[1]))
    return None


def measure_latency(server: Server, duration_s: float) -> list[Latency]:
    """Each endpoint under the paced load in turn, with the server's CPU and everyone else's."""
    pids = [server.process.pid, os.getpid()]
    results = []
    for path in LOADED_PATHS:
        before = read_cpu(pids)
        outcomes = asyncio.run(paced_load(server.url, path, RATE_PER_S, duration_s))
        after = read_cpu(pids)
        server_cpu = pid_percent(before, after, server.process.pid)
        results.append(summarize(path, outcomes, server_cpu, others_percent(before, after)))
        time.sleep(1.0)
    return results


# --- the run ------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU model, cores, memory, OS and Python of this host."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": model,
        "cores": f"{psutil.cpu_count(logical=True)} logical, "
        f"{psutil.cpu_count(logical=False)} physical",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "load average at start (1, 5, 15 min)": load,
    }


@contextlib.contextmanager
def running_servers(workdir: Path) -> Iterator[dict[float | None, Server]]:
    """The baseline (monitoring off) and the services sampling every 1 s and every 5 s."""
    servers: dict[float | None, Server] = {}
    try:
        for key in (None, 1.0, 5.0):
            servers[key] = start_server(workdir, f"svc-{key}", key)
        for server in servers.values():
            wait_healthy(server)
        yield servers
    finally:
        for server in servers.values():
            stop_server(server)


def run(durations: Durations) -> Report:
    started = datetime.now(UTC)
    info = machine()
    with (
        tempfile.TemporaryDirectory(prefix="perfpilot-bench-") as tmp,
        running_servers(Path(tmp)) as servers,
    ):
        time.sleep(durations.warmup_s)
        cpu, others_idle = measure_idle_cpu(servers, durations.cpu_window_s)
        for key, other in servers.items():
            if key != 5.0:
                stop_server(other)
        samples = samples_taken(servers[5.0].url)
        latency = measure_latency(servers[5.0], durations.load_s)
    history = [measure_history(durations.history_hours, i) for i in (5.0, 1.0)]
    return Report(started, durations, info, others_idle, cpu, history, samples, latency)


# --- output -------------------------------------------------------------------------------------


def verdict(value: float, limit: float) -> str:
    return "PASS" if value < limit else "MISS"


def cpu_label(interval_s: float | None) -> str:
    return "monitoring off (baseline)" if interval_s is None else f"interval_s = {interval_s:g}"


def print_report(report: Report) -> None:
    """Every figure as ``key = value``, one a line."""
    print(f"cpu.other_processes_percent = {report.others_idle_cpu_percent:.1f}")
    for c in report.cpu:
        key = "baseline" if c.interval_s is None else f"interval_{c.interval_s:g}s"
        note = (
            f"  (target < {TARGET_CPU_PERCENT:g}: {verdict(c.percent_of_core, TARGET_CPU_PERCENT)})"
        )
        print(f"cpu.{key}_percent = {c.percent_of_core:.3f}{note if c.interval_s == 5 else ''}")
    for h in report.history:
        mb = h.rss_growth_bytes / MB
        note = f"  (target < {TARGET_HISTORY_MB:g}: {verdict(mb, TARGET_HISTORY_MB)})"
        print(f"history.{h.interval_s:g}s.{h.hours:g}h.samples = {h.samples}")
        print(f"history.{h.interval_s:g}s.{h.hours:g}h.series = {h.series}")
        print(f"history.{h.interval_s:g}s.{h.hours:g}h.nbytes_mb = {h.nbytes / MB:.2f}")
        print(f"history.{h.interval_s:g}s.{h.hours:g}h.rss_mb = {mb:.2f}{note}")
    print(f"samples_before_load = {report.samples_before_load}")
    for lat in report.latency:
        note = ""
        if lat.path != "/healthz":
            note = f"  (target < {TARGET_P99_MS:g}: {verdict(lat.p99_ms, TARGET_P99_MS)})"
        print(f"latency.{lat.path}.rate_per_s = {lat.achieved_rate_per_s:.1f}")
        print(f"latency.{lat.path}.errors = {lat.errors} of {lat.sent}")
        print(f"latency.{lat.path}.p50_ms = {lat.p50_ms:.2f}")
        print(f"latency.{lat.path}.p99_ms = {lat.p99_ms:.2f}{note}")
        print(f"latency.{lat.path}.max_ms = {lat.max_ms:.2f}")
        print(f"latency.{lat.path}.send_lag_p99_ms = {lat.send_lag_p99_ms:.2f}")
        print(f"latency.{lat.path}.server_cpu_percent = {lat.server_cpu_percent:.1f}")
        print(f"latency.{lat.path}.other_processes_percent = {lat.others_cpu_percent:.1f}")


def markdown(report: Report) -> str:
    """The benchmark's section of docs/benchmarks.md."""
    d = report.durations
    lines = [
        SECTION_START,
        "## Resource Monitor overhead",
        "",
        f"Measured {report.started:%Y-%m-%d %H:%M} UTC. Reproduce: `{REPRODUCE}`",
        "",
        *(f"- {key}: {value}" for key, value in report.machine.items()),
        "",
        "Other engineers' test runs share this host. Each window below also records the CPU "
        "used by every process outside the benchmark (host busy time minus the benchmark's own "
        "processes), so a noisy figure can be told from a real one.",
        "",
        *cpu_table(report, d),
        *history_table(report),
        *latency_table(report, d),
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def cpu_table(report: Report, d: Durations) -> list[str]:
    baseline = next(c.percent_of_core for c in report.cpu if c.interval_s is None)
    rows = []
    for c in report.cpu:
        over = "—" if c.interval_s is None else f"{c.percent_of_core - baseline:+.2f}"
        target, result = "—", "baseline" if c.interval_s is None else "reported"
        if c.interval_s == 5:
            target, result = (
                f"< {TARGET_CPU_PERCENT:g} %",
                verdict(c.percent_of_core, TARGET_CPU_PERCENT),
            )
        label = cpu_label(c.interval_s)
        rows.append(f"| {label} | {c.percent_of_core:.2f} | {over} | {target} | {result} |")
    return [
        "### CPU of the idle running service",
        "",
        "| Sampling | CPU, % of one core | Over baseline | Target | Result |",
        "| --- | ---: | ---: | --- | --- |",
        *rows,
        "",
        f"Three services ran side by side over the same {d.cpu_window_s:g} s window after a "
        f"{d.warmup_s:g} s warm-up: `PERFORMANCE_MONITORING_ENABLED=false` (the baseline) and "
        "`[monitor] interval_s` 1 and 5. CPU is user + system time of the server process "
        "(`psutil.Process(pid).cpu_times()`, children not included) over wall time. No requests "
        "were served. `DATABASE_URL` and `REDIS_URL` pointed at a closed port, so every service "
        "also retried both checks with backoff (up to 60 s apart); that cost is in the baseline "
        "too. Other processes on the host used "
        f"{report.others_idle_cpu_percent:.1f} % of one core during the window.",
        "",
    ]


def history_table(report: Report) -> list[str]:
    rows = []
    for h in report.history:
        mb = h.rss_growth_bytes / MB
        target, result = "—", "reported"
        if h.interval_s == 5:
            target, result = f"< {TARGET_HISTORY_MB:g} MB", verdict(mb, TARGET_HISTORY_MB)
        rows.append(
            f"| {h.interval_s:g} s, {h.hours:g} h | {h.samples:,} | {h.series} | "
            f"{h.nbytes / MB:.2f} MB | {mb:.2f} MB | {target} | {result} |"
        )
    return [
        "### Resident memory of the in-memory history",
        "",
        "| Sampling, span | Samples | Series | `history.nbytes` | RSS growth | Target | Result |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        "Each row runs in a fresh interpreter: one real `HostSampler` sample on this host gives "
        "the series (`numeric_series`), then a `SeriesHistory(history_capacity(hours, "
        "interval_s))` is filled to capacity with those series, values varied around the real "
        "reading. RSS growth is resident memory after filling minus before creating it; the "
        "baseline is the interpreter's own RSS, already subtracted.",
        "",
        "The series count depends on the host: one per core and per watched mount on top of "
        "the fixed ones. By arithmetic (8 bytes per sample per series), every further series "
        "costs "
        + " and ".join(f"{h.samples * 8 / MB:.2f} MB at {h.interval_s:g} s" for h in report.history)
        + f" over {report.history[0].hours:g} h.",
        "",
    ]


def latency_table(report: Report, d: Durations) -> list[str]:
    rows = []
    for lat in report.latency:
        target, result = "—", "baseline"
        if lat.path != "/healthz":
            target, result = f"< {TARGET_P99_MS:g} ms", verdict(lat.p99_ms, TARGET_P99_MS)
        rows.append(
            f"| `{lat.path}` | {lat.achieved_rate_per_s:.1f}/s | {lat.errors} of {lat.sent} | "
            f"{lat.p50_ms:.2f} | {lat.p99_ms:.2f} | {lat.max_ms:.2f} | "
            f"{lat.send_lag_p99_ms:.2f} | {lat.server_cpu_percent:.1f} | "
            f"{lat.others_cpu_percent:.1f} | {target} | {result} |"
        )
    return [
        f"### Latency under {RATE_PER_S} requests/s",
        "",
        "| Endpoint | Achieved rate | Errors | p50 ms | p99 ms | max ms | Client send lag p99 ms "
        "| Server CPU % | Other processes CPU % | Target (p99) | Result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        f"Open-loop load: one request every {1000 / RATE_PER_S:g} ms for {d.load_s:g} s per "
        "endpoint, from `httpx.AsyncClient` (pool of up to 100 connections) on the same host, "
        "against the service sampling every 5 s, which had taken "
        f"{report.samples_before_load} samples when the load began; its history held only "
        "those, so `/api/v1/performance/metrics` (default 15-minute window) returned fewer "
        "points than it would with 15 minutes of history. Latency runs from each "
        "request's scheduled send time, not its actual one, so a stall is charged to every "
        "request it delays (no coordinated omission); errors count at the time they took. "
        "The client send lag column is how late the client itself issued requests; the CPU "
        "columns are percent of one core for the server process and for every process outside "
        "the benchmark. `/healthz` is the baseline: the same load on a handler that does "
        "nothing. Uvicorn's access log was on (the default at INFO), written to a file.",
        "",
    ]


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path``, keeping everything else."""
    docsection.write_section(path, text, SECTION_START, SECTION_END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run; prints, writes nothing")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--history-child", nargs=2, type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.history_child:
        hours, interval_s = args.history_child
        print(json.dumps(dataclasses.asdict(history_footprint_here(hours, interval_s))))
        return 0
    report = run(QUICK if args.quick else FULL)
    print_report(report)
    if not args.quick:
        write_section(args.output, markdown(report))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
