"""Did an action help? A pure comparison of samples before and after it (Welch's t-test).

Each side is summarized as (n, mean, standard deviation), which every probe can give: per-call
execution times from pg_stat_statements (calls, mean, stddev), Redis lookups as Bernoulli trials
(hit = 1), CPU samples from the monitor. The difference of the means counts only when it is
both

- statistically clear: |t| of Welch's unequal-variance t-test above the two-sided 95 % critical
  value for the Welch-Satterthwaite degrees of freedom, and
- large enough to matter: at least ``MIN_RELATIVE_CHANGE`` of the before mean, since a
  million calls make any 1 % wobble "significant".

Fewer than ``MIN_SAMPLES`` on either side give no verdict ("insufficient_data").
https://en.wikipedia.org/wiki/Welch%27s_t-test
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

MIN_SAMPLES = 5
MIN_RELATIVE_CHANGE = 0.05

# Two-sided 95 % critical values of Student's t; between rows the smaller df's (larger) value
# is used, which only makes the test more cautious.
_T95 = ((1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447), (8, 2.306),
        (10, 2.228), (15, 2.131), (20, 2.086), (30, 2.042), (60, 2.000), (120, 1.980))  # fmt: skip
_T95_INF = 1.960


class Verdict(StrEnum):
    IMPROVED = "improved"
    NO_CHANGE = "no_change"
    REGRESSED = "regressed"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True, slots=True)
class Samples:
    """Summary of one side: ``stddev`` is the sample standard deviation, in ``unit``."""

    n: int
    mean: float
    stddev: float
    unit: str


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str
    t: float | None = None
    df: float | None = None
    relative_change: float | None = None


def t_critical_95(df: float) -> float:
    value = _T95[0][1]
    for row_df, row_value in _T95:
        if df >= row_df:
            value = row_value
    return _T95_INF if df > _T95[-1][0] * 10 else value


def judge(before: Samples, after: Samples, lower_is_better: bool) -> Judgement:
    """improved / no_change / regressed, with t, degrees of freedom and relative change."""
    if before.n < MIN_SAMPLES or after.n < MIN_SAMPLES:
        return Judgement(
            Verdict.INSUFFICIENT_DATA,
            f"{before.n} samples before and {after.n} after; at least {MIN_SAMPLES} each needed",
        )
    diff = after.mean - before.mean
    relative = diff / abs(before.mean) if before.mean else None
    va, vb = before.stddev**2 / before.n, after.stddev**2 / after.n
    se = math.sqrt(va + vb)
    if se == 0.0:
        t, df = (math.inf if diff else 0.0), float(before.n + after.n - 2)
    else:
        t = diff / se
        denom = (va**2 / (before.n - 1) if va else 0.0) + (vb**2 / (after.n - 1) if vb else 0.0)
        df = (va + vb) ** 2 / denom if denom else float(before.n + after.n - 2)
    critical = t_critical_95(df)
    figures = (
        f"{before.mean:.4g} -> {after.mean:.4g} {after.unit} (n {before.n} -> {after.n}, "
        f"t={t:.2f}, critical {critical:.2f})"
    )
    small = relative is not None and abs(relative) < MIN_RELATIVE_CHANGE
    if abs(t) <= critical or small:
        why = "change below 5%" if small and abs(t) > critical else "within the measured spread"
        return Judgement(Verdict.NO_CHANGE, f"{why}: {figures}", _finite(t), df, relative)
    better = diff < 0 if lower_is_better else diff > 0
    verdict = Verdict.IMPROVED if better else Verdict.REGRESSED
    return Judgement(verdict, f"{verdict.value}: {figures}", _finite(t), df, relative)


def _finite(t: float) -> float | None:
    return t if math.isfinite(t) else None


def bernoulli(successes: int, trials: int, unit: str = "hit ratio") -> Samples:
    """Trials with a 0/1 outcome (Redis lookups: hit = 1) as samples."""
    if trials <= 0:
        return Samples(0, 0.0, 0.0, unit)
    p = successes / trials
    variance = p * (1 - p) * trials / (trials - 1) if trials > 1 else 0.0
    return Samples(trials, p, math.sqrt(variance), unit)


def of_values(values: list[float], unit: str) -> Samples:
    """Plain samples (monitor readings) summarized."""
    n = len(values)
    if n == 0:
        return Samples(0, 0.0, 0.0, unit)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return Samples(n, mean, math.sqrt(var), unit)
