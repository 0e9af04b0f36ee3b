"""The response clock's pure rules: deadlines, forward-only moves, once-per-stage announcements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.monitoring import NotificationStage, VendorNotificationKind
from partnerguard.monitoring.detection.config import NotificationDeadlines
from partnerguard.monitoring.notifications.clock import (
    STAGES,
    TIMED_STAGES,
    Deadlines,
    Step,
    can_move,
    deadlines,
    is_behind,
    newly_overdue,
    rank,
    stage_outcomes,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Clock = NotificationDeadlines.Clock
hours = st.floats(min_value=0.1, max_value=24 * 90, allow_nan=False)
stages = st.sampled_from(STAGES)


def test_defaults_give_violations_and_compromise_the_short_clock() -> None:
    config = NotificationDeadlines()
    short = config.clock(VendorNotificationKind.ACCOUNT_COMPROMISE)
    due = deadlines(T0, short, None)
    assert due == Deadlines(
        T0 + timedelta(hours=1), T0 + timedelta(hours=4), T0 + timedelta(hours=24)
    )
    assert config.clock(VendorNotificationKind.SUSPECTED_FRAUD) == config.default


@given(review=hours, action=hours, respond=hours, vendor=st.none() | hours)
def test_the_earlier_of_the_vendors_and_the_configured_response_deadline_wins(
    review: float, action: float, respond: float, vendor: float | None
) -> None:
    vendor_by = T0 + timedelta(hours=vendor) if vendor is not None else None
    due = deadlines(
        T0, Clock(review_hours=review, action_hours=action, respond_hours=respond), vendor_by
    )
    assert due.review_by == T0 + timedelta(hours=review)
    assert due.action_by == T0 + timedelta(hours=action)
    assert due.respond_by <= T0 + timedelta(hours=respond)
    if vendor_by is not None:
        assert due.respond_by == min(vendor_by, T0 + timedelta(hours=respond))


@given(current=stages, to=stages)
def test_moves_go_forward_only(current: NotificationStage, to: NotificationStage) -> None:
    assert can_move(current, to) == (rank(to) > rank(current))
    assert not (can_move(current, to) and can_move(to, current))


def test_skipping_forward_is_allowed_and_back_is_not() -> None:
    assert can_move(NotificationStage.RECEIVED, NotificationStage.ACTIONED)
    assert can_move(NotificationStage.RECEIVED, NotificationStage.RESPONDED)
    assert not can_move(NotificationStage.ACTIONED, NotificationStage.IN_REVIEW)
    assert not can_move(NotificationStage.IN_REVIEW, NotificationStage.IN_REVIEW)


DUE = Deadlines(T0 + timedelta(hours=4), T0 + timedelta(hours=24), T0 + timedelta(hours=72))


def test_a_deadline_is_missed_only_once_it_has_passed() -> None:
    assert newly_overdue(NotificationStage.RECEIVED, DUE, [], DUE.review_by) == []
    assert newly_overdue(
        NotificationStage.RECEIVED, DUE, [], DUE.review_by + timedelta(microseconds=1)
    ) == [NotificationStage.IN_REVIEW]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Step], list[datetime]]:
    """Forward moves at increasing times, and the times the clock is checked."""
    targets = sorted(draw(st.sets(st.sampled_from(TIMED_STAGES))), key=rank)
    offsets = sorted(
        draw(st.lists(st.integers(0, 100 * 60), min_size=len(targets), max_size=len(targets)))
    )
    steps = [
        Step(stage, T0 + timedelta(minutes=m)) for stage, m in zip(targets, offsets, strict=True)
    ]
    checks = sorted(draw(st.lists(st.integers(0, 120 * 60), max_size=12)))
    return steps, [T0 + timedelta(minutes=m) for m in checks]


def _status_at(steps: list[Step], when: datetime) -> NotificationStage:
    reached = [step.to for step in steps if step.at <= when]
    return reached[-1] if reached else NotificationStage.RECEIVED


@given(histories())
def test_each_stage_is_announced_at_most_once_and_only_when_missed(
    history: tuple[list[Step], list[datetime]],
) -> None:
    steps, checks = history
    announced: list[str] = []
    for when in checks:
        status = _status_at(steps, when)
        for stage in newly_overdue(status, DUE, announced, when):
            assert DUE.due_at(stage) < when
            assert rank(stage) > rank(status)
            announced.append(stage.value)
    assert len(announced) == len(set(announced))
    outcomes = {o.stage: o for o in stage_outcomes(steps, DUE, checks[-1] if checks else T0)}
    for stage in TIMED_STAGES:
        if outcomes[stage].met:
            # Reached in time: never announced.
            assert stage.value not in announced


@given(histories())
def test_behind_means_some_unreached_stage_is_past_due(
    history: tuple[list[Step], list[datetime]],
) -> None:
    steps, checks = history
    for when in checks:
        status = _status_at(steps, when)
        assert is_behind(status, DUE, when) == bool(newly_overdue(status, DUE, [], when))


def test_stage_outcomes_count_a_skipped_stage_as_reached_with_the_move_past_it() -> None:
    steps = [
        Step(NotificationStage.RECEIVED, T0),
        Step(NotificationStage.ACTIONED, T0 + timedelta(hours=5)),
    ]
    outcomes = {o.stage: o for o in stage_outcomes(steps, DUE, T0 + timedelta(hours=6))}
    assert outcomes[NotificationStage.IN_REVIEW].reached_at == T0 + timedelta(hours=5)
    assert outcomes[NotificationStage.IN_REVIEW].met is False  # 1 h late
    assert outcomes[NotificationStage.ACTIONED].met is True
    assert outcomes[NotificationStage.RESPONDED].met is None
    later = {o.stage: o for o in stage_outcomes(steps, DUE, T0 + timedelta(hours=80))}
    assert later[NotificationStage.RESPONDED].met is False
