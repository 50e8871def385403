"""What the optimizer's analysis returns: typed findings, actions and per-type answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from perfpilot.core.settings import RiskLevel

Evidence = dict[str, float | int | str | None]


class OptimizationType(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"
    DATABASE = "database"
    CACHE = "cache"
    API = "api"


ALL_TYPES: tuple[OptimizationType, ...] = tuple(OptimizationType)


class Category(StrEnum):
    """The specification's ``priority_actions[].category``."""

    CPU = "cpu"
    MEMORY = "memory"
    DATABASE = "database"
    CACHE = "cache"
    API = "api"
    SCALING = "scaling"


class Level(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Executor(StrEnum):
    """Which component carries an action out; ADVICE is for a human (or is automatic)."""

    DATABASE = "database"
    CACHE = "cache"
    SCALING = "scaling"
    ADVICE = "advice"


class TypeState(StrEnum):
    OK = "ok"
    FINDINGS = "findings"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Finding:
    type: OptimizationType
    check: str
    subject: str
    message: str
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do. ``ref`` is the id the executing component knows it by (its own plan's
    action id, or a scaling decision id); ``queryids`` are what the database probe measures."""

    id: str
    type: OptimizationType
    category: Category
    title: str
    impact: Level
    effort: Level
    risk: RiskLevel
    executor: Executor
    ref: str
    reason: str
    evidence: Evidence = field(default_factory=dict)
    reversible: bool = False
    queryids: tuple[int, ...] = ()
    statement: str = ""


@dataclass(frozen=True, slots=True)
class TypeAnalysis:
    """One type's answer: ``figures`` always say what was measured, even with nothing to do."""

    type: OptimizationType
    state: TypeState
    summary: str
    figures: Evidence
    findings: tuple[Finding, ...] = ()
    actions: tuple[Action, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    generated_at: datetime
    types: tuple[TypeAnalysis, ...]

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for t in self.types for a in t.actions)

    def of(self, kind: OptimizationType) -> TypeAnalysis | None:
        return next((t for t in self.types if t.type is kind), None)


def unavailable(kind: OptimizationType, reason: str) -> TypeAnalysis:
    """A type that could not be analysed, with the reason; the other types still answer."""
    return TypeAnalysis(
        kind, TypeState.UNAVAILABLE, f"{kind} unavailable: {reason}", {}, (), (), reason
    )


def answer(
    kind: OptimizationType,
    figures: Evidence,
    findings: list[Finding],
    actions: list[Action],
    quiet: str,
) -> TypeAnalysis:
    """The type's answer; with no findings ``quiet`` says why nothing needs doing."""
    if not findings and not actions:
        return TypeAnalysis(kind, TypeState.OK, quiet, figures)
    summary = "; ".join(f.message for f in findings) or f"{len(actions)} actions"
    return TypeAnalysis(kind, TypeState.FINDINGS, summary, figures, tuple(findings), tuple(actions))
