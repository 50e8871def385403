"""CPU and memory analyses (pure): thresholds, top processes, scale-out and deferral."""

from __future__ import annotations

from perfpilot.core.settings import RiskLevel
from perfpilot.optimizer.ids import action_id
from perfpilot.optimizer.inputs import Inputs, ProcessReading, Thresholds
from perfpilot.optimizer.model import (
    Action,
    Category,
    Evidence,
    Executor,
    Finding,
    Level,
    OptimizationType,
    TypeAnalysis,
    answer,
    unavailable,
)
from perfpilot.scaling.model import Direction

CPU, MEMORY = OptimizationType.CPU, OptimizationType.MEMORY
TOP = 3
# Redis above this share of maxmemory is about to evict (or refuse writes under noeviction);
# the same mark the Cache Optimizer uses.
REDIS_MEMORY_HIGH = 0.9


def _processes(procs: tuple[ProcessReading, ...], by_cpu: bool) -> str:
    if by_cpu:
        measured = [p for p in procs if p.cpu_percent is not None]
        top = sorted(measured, key=lambda p: -(p.cpu_percent or 0.0))[:TOP]
        return ", ".join(f"{p.name}[{p.pid}] {p.cpu_percent:.0f}%" for p in top) or "n/a"
    top = sorted(procs, key=lambda p: -p.rss_bytes)[:TOP]
    return ", ".join(f"{p.name}[{p.pid}] {p.rss_bytes / 2**20:.0f} MiB" for p in top) or "n/a"


def cpu_analysis(inputs: Inputs, limits: Thresholds) -> TypeAnalysis:
    """CPU against ``cpu_usage``; when above, scale out and defer deferrable maintenance."""
    host = inputs.host
    if host is None or host.cpu_percent is None:
        return unavailable(CPU, inputs.host_reason or "no CPU sample yet")
    cpu = host.cpu_percent
    figures: Evidence = {"cpu_percent": round(cpu, 1), "threshold": limits.cpu_usage}
    if cpu <= limits.cpu_usage:
        return answer(CPU, figures, [], [], f"cpu {cpu:.1f}% within the {limits.cpu_usage:g}%")
    statements = _top_statements(inputs)
    evidence: Evidence = figures | {
        "top_processes": _processes(host.processes, by_cpu=True),
        "top_statements": statements,
    }
    finding = Finding(CPU, "cpu_high", "host", f"cpu {cpu:.1f}% > {limits.cpu_usage:g}%", evidence)
    actions = [*_scale_out(inputs, cpu), *_defer(inputs, cpu)]
    if statements:
        actions.append(
            Action(
                action_id("cpu", "advice", "top_statements"), CPU, Category.CPU,
                "Review the statements using the most database time", Level.MEDIUM,
                Level.MEDIUM, RiskLevel.LOW, Executor.ADVICE, "top_statements",
                "the heaviest statements while the host is busy", {"statements": statements},
            )
        )  # fmt: skip
    return answer(CPU, evidence, [finding], actions, "")


def _top_statements(inputs: Inputs) -> str | None:
    if inputs.database is None:
        return None
    top = sorted(inputs.database.report.statements, key=lambda g: -g.total_ms)[:TOP]
    return " | ".join(f"{g.query[:80]} ({g.total_ms:.0f} ms total)" for g in top) or None


def _scale_out(inputs: Inputs, cpu: float) -> list[Action]:
    """The scaler's proposals to add instances; bounds and cooldowns are already in them."""
    out = []
    for d in inputs.scaling or ():
        if d.direction is not Direction.UP:
            continue
        out.append(
            Action(
                action_id("cpu", "scaling", d.service), CPU, Category.SCALING,
                f"Scale out {d.service}: {d.current} -> {d.desired} instances",
                Level.HIGH, Level.LOW, RiskLevel.LOW, Executor.SCALING, d.id, d.reason,
                {"service": d.service, "current": d.current, "desired": d.desired,
                 "confidence": round(d.confidence, 2), "cpu_percent": round(cpu, 1)},
            )
        )  # fmt: skip
    return out


def _defer(inputs: Inputs, cpu: float) -> list[Action]:
    """Deferrable tasks due soon: the scheduler holds them while the CPU is above its mark."""
    if not inputs.deferrable:
        return []
    ids = ", ".join(t.id for t in inputs.deferrable)
    return [
        Action(
            action_id("cpu", "advice", "defer_maintenance"), CPU, Category.CPU,
            f"Defer deferrable maintenance ({ids}) until the CPU is below "
            f"{inputs.busy_cpu_percent:g}%", Level.MEDIUM, Level.LOW, RiskLevel.LOW,
            Executor.ADVICE, "defer_maintenance",
            "the scheduler holds deferrable tasks while the host is busy (automatic)",
            {"tasks": ids, "cpu_percent": round(cpu, 1),
             "busy_cpu_percent": inputs.busy_cpu_percent,
             "next_runs": ", ".join(
                 f"{t.id}@{t.next_run_at.isoformat() if t.next_run_at else 'n/a'}"
                 for t in inputs.deferrable)},
        )
    ]  # fmt: skip


def memory_analysis(inputs: Inputs, limits: Thresholds) -> TypeAnalysis:
    """Host memory, work_mem x connections against RAM, Redis against maxmemory, TTL-less keys."""
    host = inputs.host
    if host is None or host.memory_percent is None:
        return unavailable(MEMORY, inputs.host_reason or "no memory sample yet")
    mem = host.memory_percent
    figures: Evidence = {"memory_percent": round(mem, 1), "threshold": limits.memory_usage}
    findings: list[Finding] = []
    actions: list[Action] = []
    if mem > limits.memory_usage:
        top = _processes(host.processes, by_cpu=False)
        findings.append(
            Finding(MEMORY, "memory_high", "host", f"memory {mem:.1f}% > "
                    f"{limits.memory_usage:g}%", figures | {"top_rss_processes": top})
        )  # fmt: skip
    findings += _work_mem(inputs, host.memory_total_bytes, figures)
    findings += _redis_memory(inputs, figures)
    actions += _ttl_less(inputs)
    return answer(MEMORY, figures, findings, actions, f"memory {mem:.1f}% within "
                  f"{limits.memory_usage:g}%; work_mem and Redis within their limits")  # fmt: skip


def _work_mem(inputs: Inputs, total: int | None, figures: Evidence) -> list[Finding]:
    db = inputs.database
    if db is None or not total:
        return []
    # Each sort or hash node of each connection may use work_mem: the worst case is their
    # product (https://www.postgresql.org/docs/current/runtime-config-resource.html).
    worst = db.work_mem_bytes * db.max_connections
    figures["work_mem_x_connections_bytes"] = worst
    if worst <= total:
        return []
    return [
        Finding(MEMORY, "work_mem_overcommit", "postgresql",
                f"work_mem x max_connections = {worst / 2**30:.1f} GiB exceeds the host's "
                f"{total / 2**30:.1f} GiB", {"work_mem_bytes": db.work_mem_bytes,
                "max_connections": db.max_connections, "memory_total_bytes": total})
    ]  # fmt: skip


def _redis_memory(inputs: Inputs, figures: Evidence) -> list[Finding]:
    if inputs.cache is None:
        return []
    server = inputs.cache.server
    figures["redis_used_memory_bytes"] = server.used_memory_bytes
    figures["redis_maxmemory_bytes"] = server.maxmemory_bytes or None
    if not server.maxmemory_bytes:
        return []
    share = server.used_memory_bytes / server.maxmemory_bytes
    if share < REDIS_MEMORY_HIGH:
        return []
    return [
        Finding(MEMORY, "redis_memory_high", "redis", f"Redis uses {share:.0%} of maxmemory",
                {"used_memory_bytes": server.used_memory_bytes,
                 "maxmemory_bytes": server.maxmemory_bytes})
    ]  # fmt: skip


def _ttl_less(inputs: Inputs) -> list[Action]:
    """The Cache Optimizer's expiry actions that give managed keys without a TTL one."""
    if inputs.cache is None:
        return []
    out = []
    for a in inputs.cache.actions:
        missing = sum(1 for e in a.expiries if e.why == "no_ttl")
        if not missing:
            continue
        out.append(
            Action(
                action_id("memory", "cache", a.id), MEMORY, Category.MEMORY,
                f"Set TTLs on {missing} managed keys without one ({a.target})", Level.MEDIUM,
                Level.LOW, a.risk, Executor.CACHE, a.id, a.reason,
                {"namespace": a.target, "keys_without_ttl": missing},
                statement=a.statement,
            )
        )  # fmt: skip
    return out
