"""The response clock of a vendor notification, as pure rules (no I/O).

A notice moves received → in review → actioned → responded, forward only; skipping a stage is
allowed (a notice actioned at once has passed review too). Each stage after ``received`` has a
deadline: ``review_by``, ``action_by``, ``respond_by``. A stage not reached by its deadline is
overdue and announced once; a stage reached late is not announced afterwards, and the stages
after it keep their own deadlines.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from partnerguard.common.events.types.monitoring import NotificationStage
from partnerguard.monitoring.detection.config import NotificationDeadlines

STAGES: tuple[NotificationStage, ...] = (
    NotificationStage.RECEIVED,
    NotificationStage.IN_REVIEW,
    NotificationStage.ACTIONED,
    NotificationStage.RESPONDED,
)
# The stages with a deadline, in order.
TIMED_STAGES: tuple[NotificationStage, ...] = STAGES[1:]


def rank(stage: NotificationStage) -> int:
    return STAGES.index(stage)


@dataclass(frozen=True)
class Deadlines:
    review_by: datetime
    action_by: datetime
    respond_by: datetime

    def due_at(self, stage: NotificationStage) -> datetime:
        """The deadline of a timed stage."""
        if stage is NotificationStage.IN_REVIEW:
            return self.review_by
        if stage is NotificationStage.ACTIONED:
            return self.action_by
        if stage is NotificationStage.RESPONDED:
            return self.respond_by
        raise ValueError(f"{stage} has no deadline")


def deadlines(
    received_at: datetime, clock: NotificationDeadlines.Clock, vendor_respond_by: datetime | None
) -> Deadlines:
    """The partner's configured deadlines from receipt; the vendor's deadline wins when earlier."""
    respond_by = received_at + timedelta(hours=clock.respond_hours)
    if vendor_respond_by is not None:
        respond_by = min(respond_by, vendor_respond_by)
    return Deadlines(
        review_by=received_at + timedelta(hours=clock.review_hours),
        action_by=received_at + timedelta(hours=clock.action_hours),
        respond_by=respond_by,
    )


def can_move(current: NotificationStage, to: NotificationStage) -> bool:
    """Forward only, by one stage or more; never back and never to where it already is."""
    return rank(to) > rank(current)


def newly_overdue(
    status: NotificationStage,
    due: Deadlines,
    announced: Collection[str],
    now: datetime,
) -> list[NotificationStage]:
    """The stages not reached whose deadline has passed and that were not announced yet, in
    stage order."""
    return [
        stage
        for stage in TIMED_STAGES
        if rank(stage) > rank(status) and due.due_at(stage) < now and stage.value not in announced
    ]


def is_behind(status: NotificationStage, due: Deadlines, now: datetime) -> bool:
    """Whether some stage not reached yet is past its deadline."""
    return any(rank(stage) > rank(status) and due.due_at(stage) < now for stage in TIMED_STAGES)


@dataclass(frozen=True)
class Step:
    """One recorded move of the clock."""

    to: NotificationStage
    at: datetime


@dataclass(frozen=True)
class StageOutcome:
    stage: NotificationStage
    due_at: datetime
    reached_at: datetime | None
    # True: reached by the deadline; False: reached late, or not reached and past due;
    # None: not reached and still in time.
    met: bool | None


def stage_outcomes(steps: Sequence[Step], due: Deadlines, now: datetime) -> list[StageOutcome]:
    """Each timed stage's deadline, when it was reached (a skipped stage counts as reached by
    the move past it) and whether its deadline was met."""
    outcomes = []
    for stage in TIMED_STAGES:
        reached_at = next((step.at for step in steps if rank(step.to) >= rank(stage)), None)
        due_at = due.due_at(stage)
        if reached_at is not None:
            met: bool | None = reached_at <= due_at
        else:
            met = False if due_at < now else None
        outcomes.append(StageOutcome(stage, due_at, reached_at, met))
    return outcomes
