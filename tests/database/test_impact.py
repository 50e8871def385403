"""The verdict on a built index, from before/after figures (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from perfpilot.database.impact import IndexEvidence, IndexVerdict, judge_index

BUILT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
SETTLE = timedelta(hours=1)


def evidence(before: float | None, after: float | None, calls: int, scans: int) -> IndexEvidence:
    return IndexEvidence(BUILT, before, after, calls, scans)


@pytest.mark.parametrize(
    ("case", "minutes", "verdict", "drop"),
    [
        (evidence(40.0, 0.5, 500, 480), 90, IndexVerdict.HELPED, False),
        (evidence(40.0, 38.0, 500, 480), 90, IndexVerdict.NO_EFFECT, True),
        (evidence(40.0, 0.5, 500, 0), 90, IndexVerdict.UNUSED, True),
        (evidence(40.0, 0.5, 5, 5), 90, IndexVerdict.TOO_EARLY, False),
        (evidence(None, 0.5, 500, 100), 90, IndexVerdict.TOO_EARLY, False),
        (evidence(40.0, 0.5, 500, 480), 30, IndexVerdict.TOO_EARLY, False),
    ],
)
def test_judge_index(case: IndexEvidence, minutes: int, verdict: IndexVerdict, drop: bool) -> None:
    judgement = judge_index(case, BUILT + timedelta(minutes=minutes), SETTLE)
    assert judgement.verdict is verdict
    assert judgement.drop is drop
    assert judgement.reason


def test_reason_carries_the_figures() -> None:
    judgement = judge_index(evidence(40.0, 0.5, 500, 480), BUILT + timedelta(hours=2), SETTLE)
    assert "40.00 ms before" in judgement.reason
    assert "80.0x" in judgement.reason
