"""The performance score on /status (pure): 100 minus weighted penalties, documented in
README.md ("Performance score") and returned with the value.

    score = 100 x (1 - sum(w_i x p_i) / sum(w_i))   over the parts that could be measured

    p_cpu, p_memory, p_disk = clamp((value - threshold) / (100 - threshold), 0, 1)
                              (0 at or below the threshold, 1 at 100 %; disk: the fullest mount)
    p_alerts                = clamp(0.5 x critical + 0.25 x warning firing alerts, 0, 1)
    weights w: cpu 0.3, memory 0.3, disk 0.2, alerts 0.2
"""

from __future__ import annotations

from dataclasses import dataclass

FORMULA = (
    "100 * (1 - sum(w*p)/sum(w)) over measured parts; p = clamp((value - threshold) / "
    "(100 - threshold), 0, 1) for cpu, memory, disk (fullest mount); p_alerts = clamp(0.5 * "
    "critical + 0.25 * warning, 0, 1); w: cpu 0.3, memory 0.3, disk 0.2, alerts 0.2"
)
WEIGHTS = {"cpu": 0.3, "memory": 0.3, "disk": 0.2, "alerts": 0.2}


@dataclass(frozen=True, slots=True)
class Score:
    value: float | None
    penalties: dict[str, float | None]


def _over(value: float | None, threshold: float) -> float | None:
    if value is None:
        return None
    room = max(100.0 - threshold, 1e-9)
    return min(1.0, max(0.0, (value - threshold) / room))


def performance_score(
    levels: dict[str, tuple[float | None, float]], critical: int, warning: int
) -> Score:
    """``levels``: part -> (current percent or None, threshold percent)."""
    penalties: dict[str, float | None] = {
        name: _over(value, threshold) for name, (value, threshold) in levels.items()
    }
    penalties["alerts"] = min(1.0, 0.5 * critical + 0.25 * warning)
    measured = {k: v for k, v in penalties.items() if v is not None and k in WEIGHTS}
    if set(measured) == {"alerts"} or not measured:
        return Score(None, penalties)
    total = sum(WEIGHTS[k] for k in measured)
    value = 100.0 * (1.0 - sum(WEIGHTS[k] * v for k, v in measured.items()) / total)
    return Score(round(value, 1), penalties)
