"""One executed (or refused) action as it is kept in the history, with its impact figures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from perfpilot.optimizer.model import Action, Evidence

Figures = dict[str, float | int | str | None]


class ActionStatus(StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"
    ADVICE = "advice"
    APPLIED = "applied"
    FAILED = "failed"
    REVERTED = "reverted"


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """``verdict`` stays None until the settle period is over; ``settle_until`` is when."""

    id: str
    action_id: str
    type: str
    category: str
    title: str
    executor: str
    ref: str
    risk: str
    trigger: str
    status: ActionStatus
    detail: str
    at: datetime
    evidence: Evidence = field(default_factory=dict)
    statement: str = ""
    reversible: bool = False
    queryids: tuple[int, ...] = ()
    settle_until: datetime | None = None
    before: Figures = field(default_factory=dict)
    after: Figures = field(default_factory=dict)
    verdict: str | None = None
    verdict_reason: str | None = None
    judged_at: datetime | None = None

    @classmethod
    def of(
        cls, action: Action, trigger: str, status: ActionStatus, detail: str, at: datetime
    ) -> ActionRecord:
        return cls(
            id=f"{action.id}-{int(at.timestamp() * 1000)}",
            action_id=action.id,
            type=action.type.value,
            category=action.category.value,
            title=action.title,
            executor=action.executor.value,
            ref=action.ref,
            risk=action.risk.value,
            trigger=trigger,
            status=status,
            detail=detail,
            at=at,
            evidence=dict(action.evidence),
            statement=action.statement,
            reversible=action.reversible,
            queryids=action.queryids,
        )

    @property
    def pending(self) -> bool:
        return self.status is ActionStatus.APPLIED and self.verdict is None

    def with_(self, **changes: object) -> ActionRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


def to_json(record: ActionRecord) -> str:
    body = asdict(record)
    for key in ("at", "settle_until", "judged_at"):
        value = body[key]
        body[key] = None if value is None else value.isoformat()
    body["queryids"] = list(record.queryids)
    return json.dumps(body, sort_keys=True)


def from_json(text: str) -> ActionRecord:
    body = json.loads(text)
    for key in ("at", "settle_until", "judged_at"):
        if body[key] is not None:
            body[key] = datetime.fromisoformat(body[key])
    body["status"] = ActionStatus(body["status"])
    body["queryids"] = tuple(body["queryids"])
    return ActionRecord(**body)
