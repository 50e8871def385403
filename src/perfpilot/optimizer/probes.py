"""Before and after figures of an applied action, as samples the verdict can compare.

- database actions: the per-call execution times of the statements the action is for, from
  pg_stat_statements' cumulative (calls, total, stddev). The "after" side is the difference of
  two readings: n, sum and sum of squares subtract exactly, so the after mean and spread cover
  only the calls made since the action (stddev_exec_time is the population deviation:
  https://www.postgresql.org/docs/current/pgstatstatements.html).
- cache actions: Redis lookups since the action as Bernoulli trials (hit = 1), from INFO's
  keyspace_hits / keyspace_misses; perfpilot's own sweeps are among them, a known bias.
- scaling: the monitor's CPU samples in the settle window against those before the action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

from perfpilot.database.connection import APPLICATION_NAME
from perfpilot.monitor.service import ResourceMonitor
from perfpilot.optimizer.records import Figures
from perfpilot.optimizer.verdict import Samples, bernoulli, of_values

_STATEMENT_TIMES = """/* perfpilot */
SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0),
       coalesce(sum(calls * (stddev_exec_time ^ 2 + mean_exec_time ^ 2)), 0)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND queryid = ANY(%s)"""
BEFORE_WINDOW = timedelta(minutes=10)


def samples_figures(metric: str, s: Samples, lower_is_better: bool) -> Figures:
    return {"metric": metric, "unit": s.unit, "n": s.n, "mean": s.mean, "stddev": s.stddev,
            "lower_is_better": int(lower_is_better)}  # fmt: skip


def figures_samples(f: Figures) -> Samples:
    return Samples(int(f["n"] or 0), float(f["mean"] or 0.0), float(f["stddev"] or 0.0),
                   str(f["unit"]))  # fmt: skip


def _from_sums(n: float, total: float, sumsq: float) -> Samples:
    if n <= 0:
        return Samples(0, 0.0, 0.0, "ms per call")
    mean = total / n
    # Sample variance from the sums; rounding can make a tiny negative, which is 0.
    var = max(0.0, (sumsq - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    return Samples(int(n), mean, math.sqrt(var), "ms per call")


def statement_times(dsn: str, queryids: Sequence[int], base: Figures | None) -> Figures:
    """Per-call times of ``queryids``: all calls so far, or (with ``base``) those since it."""
    with psycopg.connect(
        dsn, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
    ) as conn:
        row = conn.execute(_STATEMENT_TIMES, (list(queryids),)).fetchone()
    n, total, sumsq = (float(v) for v in row) if row else (0.0, 0.0, 0.0)
    counters = (n, total, sumsq)
    if base is not None:
        counters = (
            n - float(base["c_calls"] or 0),
            total - float(base["c_total_ms"] or 0),
            sumsq - float(base["c_sumsq"] or 0),
        )
    figures = samples_figures("statement_time", _from_sums(*counters), lower_is_better=True)
    return figures | {"c_calls": n, "c_total_ms": total, "c_sumsq": sumsq}


def hit_ratio(hits: int, misses: int, base: Figures | None) -> Figures:
    """Lookups as trials; with ``base``, only those since it."""
    h, m = hits, misses
    if base is not None:
        h, m = hits - int(base["c_hits"] or 0), misses - int(base["c_misses"] or 0)
    figures = samples_figures("hit_ratio", bernoulli(h, h + m), lower_is_better=False)
    return figures | {"c_hits": hits, "c_misses": misses}


def cpu_window(monitor: ResourceMonitor, since: datetime, until: datetime) -> Figures:
    window = monitor.parts.history.window(["cpu"], since, until, 10_000)
    values = [v for v in window.series.get("cpu", []) if v is not None]
    return samples_figures("cpu_percent", of_values(values, "%"), lower_is_better=True)
