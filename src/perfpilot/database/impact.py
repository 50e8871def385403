"""Judging an index perfpilot built: did the queries it was built for get faster?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class IndexVerdict(StrEnum):
    HELPED = "helped"
    NO_EFFECT = "no_effect"
    UNUSED = "unused"
    TOO_EARLY = "too_early"


@dataclass(frozen=True, slots=True)
class IndexEvidence:
    """What is known about one built index after it had time to work."""

    created_at: datetime
    before_mean_ms: float | None
    after_mean_ms: float | None
    after_calls: int
    index_scans: int


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: IndexVerdict
    reason: str

    @property
    def drop(self) -> bool:
        """An index that did not help costs writes and space for nothing."""
        return self.verdict in (IndexVerdict.NO_EFFECT, IndexVerdict.UNUSED)


# The target queries must get at least this much faster; below it, plan noise and cache
# warmth explain the difference as well as the index does.
MIN_SPEEDUP = 1.25
# Fewer calls than this after the build say nothing about the mean.
MIN_CALLS = 20


def judge_index(evidence: IndexEvidence, now: datetime, settle: timedelta) -> Judgement:
    """The verdict on one index, with the figures that decided it."""
    age = now - evidence.created_at
    if age < settle:
        return Judgement(IndexVerdict.TOO_EARLY, f"built {age} ago; judged after {settle}")
    if evidence.index_scans == 0:
        return Judgement(IndexVerdict.UNUSED, f"no index scans in {age} since it was built")
    before, after = evidence.before_mean_ms, evidence.after_mean_ms
    if before is None or after is None or evidence.after_calls < MIN_CALLS:
        return Judgement(
            IndexVerdict.TOO_EARLY,
            f"{evidence.after_calls} calls of its queries since the build; need {MIN_CALLS}",
        )
    speedup = before / after if after > 0 else float("inf")
    figures = f"mean {before:.2f} ms before, {after:.2f} ms after ({speedup:.1f}x)"
    if speedup >= MIN_SPEEDUP:
        return Judgement(IndexVerdict.HELPED, figures)
    return Judgement(IndexVerdict.NO_EFFECT, f"{figures}; below the {MIN_SPEEDUP}x bar")
