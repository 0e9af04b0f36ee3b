"""What a proposed policy would have decided for past applications: a pure what-if report.

The service feeds the facts stored with each application's latest assessment; nothing here
reads or writes anything.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.onboarding.scoring.engine import Assessment, Outcome, score_application
from partnerguard.onboarding.scoring.facts import Facts
from partnerguard.onboarding.scoring.policy import RiskPolicy


class ReplayItem(BaseModel):
    """One past application: the facts it was scored on and the assessment it got."""

    model_config = ConfigDict(frozen=True)

    application_id: uuid.UUID
    facts: Facts
    current: Assessment


class Transition(BaseModel):
    """How many applications went from one outcome (now) to another (under the proposal)."""

    model_config = ConfigDict(frozen=True)

    from_outcome: Outcome
    to_outcome: Outcome
    count: int = Field(ge=1)


class Change(BaseModel):
    """One application whose outcome the proposed policy changes."""

    model_config = ConfigDict(frozen=True)

    application_id: uuid.UUID
    from_outcome: Outcome
    to_outcome: Outcome
    from_score: int
    to_score: int


class ReplayReport(BaseModel):
    """The proposed policy's effect on the replayed applications."""

    model_config = ConfigDict(frozen=True)

    total: int = Field(description="Applications replayed.")
    changed: int = Field(description="Applications whose outcome would change.")
    transitions: list[Transition] = Field(
        description="Count per (current, proposed) outcome pair, unchanged pairs included."
    )
    changes: list[Change] = Field(description="The changed applications, in input order.")
    changes_truncated: bool = Field(description="More applications changed than are listed.")


_OUTCOME_ORDER = list(Outcome)


def replay_policy(
    items: Iterable[ReplayItem], proposed: RiskPolicy, limit: int = 100
) -> ReplayReport:
    """Score every item under the proposed policy and compare with its current assessment.

    At most ``limit`` changes are listed; the counts always cover every item.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    total = 0
    pairs: Counter[tuple[Outcome, Outcome]] = Counter()
    changes: list[Change] = []
    changed = 0
    for item in items:
        total += 1
        proposed_assessment = score_application(item.facts, proposed)
        before, after = item.current.outcome, proposed_assessment.outcome
        pairs[before, after] += 1
        if before == after:
            continue
        changed += 1
        if len(changes) < limit:
            changes.append(
                Change(
                    application_id=item.application_id,
                    from_outcome=before,
                    to_outcome=after,
                    from_score=item.current.score,
                    to_score=proposed_assessment.score,
                )
            )
    transitions = [
        Transition(from_outcome=before, to_outcome=after, count=pairs[before, after])
        for before in _OUTCOME_ORDER
        for after in _OUTCOME_ORDER
        if pairs[before, after]
    ]
    return ReplayReport(
        total=total,
        changed=changed,
        transitions=transitions,
        changes=changes,
        changes_truncated=changed > len(changes),
    )
