"""``run_database_maintenance``: VACUUM (ANALYZE) of the tables autovacuum's formulas call due,
and a verdict on the indexes perfpilot built."""

from __future__ import annotations

import asyncio
from collections import Counter

from perfpilot.core.risk import Trigger
from perfpilot.database.tuner import DatabaseTuner


class DatabaseMaintenance:
    """One table at a time; applied only as far as the risk policy allows scheduled runs."""

    def __init__(self, tuner: DatabaseTuner) -> None:
        self._tuner = tuner

    async def run(self) -> str:
        outcomes = await asyncio.to_thread(self._tuner.maintenance, Trigger.SCHEDULED)
        judged = await asyncio.to_thread(self._tuner.judge_indexes)
        if not outcomes:
            summary = "no table due for VACUUM or ANALYZE"
        else:
            counts = Counter(o.outcome.value for o in outcomes)
            parts = [f"{n} {outcome}" for outcome, n in sorted(counts.items())]
            details = "; ".join(
                f"{o.action.target}: {o.outcome.value} ({o.detail})" for o in outcomes
            )
            summary = f"{len(outcomes)} tables due: {', '.join(parts)} — {details}"
        if judged:
            summary += "; indexes judged: " + ", ".join(f"{b.name} {v}" for b, v in judged)
        return summary
