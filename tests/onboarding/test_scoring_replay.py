"""Replaying a proposed policy over past applications' facts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from partnerguard.onboarding.scoring import (
    Change,
    Facts,
    Outcome,
    ReplayItem,
    RiskPolicy,
    Transition,
    replay_policy,
    score_application,
)

CURRENT = RiskPolicy()


def make_item(**changes: Any) -> ReplayItem:
    values: dict[str, Any] = {
        "company_country": "GB",
        "company_domain": "acme.co.uk",
        "contact_email": "jane@acme.co.uk",
        "contact_phone": "+442079460000",
        "ip_country": "GB",
    }
    values.update(changes)
    facts = Facts(**values)
    return ReplayItem(
        application_id=uuid.uuid4(), facts=facts, current=score_application(facts, CURRENT)
    )


def clean_item() -> ReplayItem:
    return make_item()


def disposable_item() -> ReplayItem:
    """35 points under the current policy: review."""
    return make_item(contact_email="x@mailinator.com")


def test_replaying_the_current_policy_changes_nothing() -> None:
    items = [clean_item(), clean_item(), disposable_item()]
    report = replay_policy(items, CURRENT)
    assert (report.total, report.changed, report.changes) == (3, 0, [])
    assert report.transitions == [
        Transition(from_outcome=Outcome.APPROVE, to_outcome=Outcome.APPROVE, count=2),
        Transition(from_outcome=Outcome.REVIEW, to_outcome=Outcome.REVIEW, count=1),
    ]
    assert not report.changes_truncated


def test_stricter_policy_lists_the_changed_applications_with_scores() -> None:
    clean, disposable = clean_item(), disposable_item()
    stricter = RiskPolicy.model_validate({"weights": {"disposable_email": 80}})
    report = replay_policy([clean, disposable], stricter)
    assert report.changed == 1
    assert report.changes == [
        Change(
            application_id=disposable.application_id,
            from_outcome=Outcome.REVIEW,
            to_outcome=Outcome.REJECT,
            from_score=35,
            to_score=80,
        )
    ]
    assert report.transitions == [
        Transition(from_outcome=Outcome.APPROVE, to_outcome=Outcome.APPROVE, count=1),
        Transition(from_outcome=Outcome.REVIEW, to_outcome=Outcome.REJECT, count=1),
    ]


def test_transitions_are_ordered_from_mildest_to_harshest() -> None:
    laxer = RiskPolicy.model_validate({"weights": {"disposable_email": 0, "velocity_ip": 90}})
    # 20 points now (approve), 90 under the proposal (reject).
    burst = make_item(velocity={"ip": 9})
    report = replay_policy([disposable_item(), burst, clean_item()], laxer)
    pairs = [(t.from_outcome, t.to_outcome, t.count) for t in report.transitions]
    assert pairs == [
        (Outcome.APPROVE, Outcome.APPROVE, 1),
        (Outcome.APPROVE, Outcome.REJECT, 1),
        (Outcome.REVIEW, Outcome.APPROVE, 1),
    ]


def test_changes_are_capped_at_the_limit_but_counted_in_full() -> None:
    items = [disposable_item() for _ in range(5)]
    stricter = RiskPolicy.model_validate({"weights": {"disposable_email": 80}})
    report = replay_policy(iter(items), stricter, limit=2)
    assert (report.total, report.changed, len(report.changes)) == (5, 5, 2)
    assert report.changes_truncated
    assert [change.application_id for change in report.changes] == [
        item.application_id for item in items[:2]
    ]


def test_changes_are_not_truncated_at_exactly_the_limit() -> None:
    stricter = RiskPolicy.model_validate({"weights": {"disposable_email": 80}})
    report = replay_policy([disposable_item(), disposable_item()], stricter, limit=2)
    assert not report.changes_truncated


def test_replaying_nothing_gives_an_empty_report() -> None:
    report = replay_policy([], CURRENT)
    assert (report.total, report.changed, report.transitions, report.changes) == (0, 0, [], [])


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        replay_policy([], CURRENT, limit=-1)


def test_report_serializes_to_json() -> None:
    stricter = RiskPolicy.model_validate({"weights": {"disposable_email": 80}})
    body = replay_policy([disposable_item()], stricter).model_dump(mode="json")
    assert body["transitions"] == [{"from_outcome": "review", "to_outcome": "reject", "count": 1}]
