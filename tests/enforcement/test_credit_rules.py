"""The one-time compromise credit's rules, pure: eligibility, the deadline, the reminders."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.enforcement import CaseKind
from partnerguard.enforcement.cases.credit import (
    PROGRAM_START,
    CreditFacts,
    Ineligibility,
    credit_deadline,
    days_left,
    deadline_for,
    ineligibility,
    reminder_due,
)

FIRST_USAGE = date(2024, 3, 1)
ELIGIBLE = CreditFacts(
    kind=CaseKind.ACCOUNT_COMPROMISE,
    verified=True,
    case_open=True,
    tenant_known=True,
    first_usage_on=FIRST_USAGE,
    commerce=("new_commerce",),
    already_requested=False,
)
THRESHOLDS = (30, 7, 1)


def test_a_verified_compromise_on_new_commerce_within_the_window_is_eligible() -> None:
    assert ineligibility(ELIGIBLE, FIRST_USAGE + timedelta(days=10)) == []


def test_the_deadline_is_sixty_calendar_days_after_the_first_usage() -> None:
    assert credit_deadline(date(2024, 3, 1)) == date(2024, 4, 30)
    assert credit_deadline(date(2023, 12, 15)) == date(2024, 2, 13)


def test_filing_on_day_60_is_in_time() -> None:
    assert ineligibility(ELIGIBLE, FIRST_USAGE + timedelta(days=60)) == []


def test_filing_on_day_61_is_late() -> None:
    reasons = ineligibility(ELIGIBLE, FIRST_USAGE + timedelta(days=61))
    assert reasons == [Ineligibility.WINDOW_CLOSED]


def test_activity_from_2023_04_01_qualifies() -> None:
    facts = replace(ELIGIBLE, first_usage_on=date(2023, 4, 1))
    assert ineligibility(facts, date(2023, 5, 1)) == []
    assert deadline_for(CaseKind.ACCOUNT_COMPROMISE, date(2023, 4, 1)) == date(2023, 5, 31)


def test_activity_from_2023_03_31_does_not_qualify_and_has_no_deadline() -> None:
    facts = replace(ELIGIBLE, first_usage_on=date(2023, 3, 31))
    assert ineligibility(facts, date(2023, 4, 10)) == [Ineligibility.BEFORE_PROGRAM]
    assert deadline_for(CaseKind.ACCOUNT_COMPROMISE, date(2023, 3, 31)) is None


def test_a_legacy_subscription_makes_the_request_ineligible() -> None:
    facts = replace(ELIGIBLE, commerce=("new_commerce", "legacy"))
    assert ineligibility(facts, FIRST_USAGE) == [Ineligibility.LEGACY_SUBSCRIPTION]


def test_a_customer_without_new_commerce_subscriptions_is_ineligible() -> None:
    assert ineligibility(replace(ELIGIBLE, commerce=()), FIRST_USAGE) == [
        Ineligibility.NO_NEW_COMMERCE
    ]


def test_subscriptions_not_chosen_yet_are_not_judged() -> None:
    assert ineligibility(replace(ELIGIBLE, commerce=None), FIRST_USAGE) == []


def test_only_a_verified_account_compromise_qualifies() -> None:
    assert ineligibility(replace(ELIGIBLE, kind=CaseKind.FRAUD), FIRST_USAGE) == [
        Ineligibility.NOT_ACCOUNT_COMPROMISE
    ]
    assert ineligibility(replace(ELIGIBLE, verified=False), FIRST_USAGE) == [
        Ineligibility.NOT_VERIFIED
    ]


def test_a_second_request_for_the_tenant_is_ineligible() -> None:
    assert ineligibility(replace(ELIGIBLE, already_requested=True), FIRST_USAGE) == [
        Ineligibility.ALREADY_REQUESTED
    ]


def test_every_reason_is_listed_at_once() -> None:
    facts = CreditFacts(
        kind=CaseKind.ACCOUNT_COMPROMISE,
        verified=False,
        case_open=False,
        tenant_known=False,
        first_usage_on=None,
        commerce=("legacy",),
        already_requested=True,
    )
    assert ineligibility(facts, FIRST_USAGE) == [
        Ineligibility.NOT_VERIFIED,
        Ineligibility.CASE_CLOSED,
        Ineligibility.TENANT_UNKNOWN,
        Ineligibility.FIRST_USAGE_UNKNOWN,
        Ineligibility.LEGACY_SUBSCRIPTION,
        Ineligibility.ALREADY_REQUESTED,
    ]


@given(
    first_usage=st.dates(min_value=PROGRAM_START, max_value=date(2030, 12, 31)),
    offset=st.integers(min_value=0, max_value=400),
)
def test_filing_is_in_time_exactly_up_to_day_60_whatever_the_discovery(
    first_usage: date, offset: int
) -> None:
    facts = replace(ELIGIBLE, first_usage_on=first_usage)
    eligible = ineligibility(facts, first_usage + timedelta(days=offset)) == []
    assert eligible == (offset <= 60)


@given(first_usage=st.dates(max_value=PROGRAM_START - timedelta(days=1)))
def test_activity_before_the_program_is_never_eligible(first_usage: date) -> None:
    facts = replace(ELIGIBLE, first_usage_on=first_usage)
    assert Ineligibility.BEFORE_PROGRAM in ineligibility(facts, first_usage)


def test_reminders_come_at_30_7_and_1_days_left_when_the_clock_runs_daily() -> None:
    sent: list[int] = []
    fired = []
    for left in range(60, -3, -1):
        threshold = reminder_due(left, THRESHOLDS, sent)
        if threshold is not None:
            sent.append(threshold)
            fired.append((left, threshold))
    assert fired == [(30, 30), (7, 7), (1, 1)]


def test_a_clock_that_missed_days_sends_only_the_tightest_threshold() -> None:
    assert reminder_due(5, THRESHOLDS, []) == 7
    assert reminder_due(4, THRESHOLDS, [7]) is None
    assert reminder_due(0, THRESHOLDS, []) == 1


def test_no_reminder_after_the_deadline() -> None:
    assert reminder_due(-1, THRESHOLDS, []) is None
    assert days_left(date(2024, 4, 30), date(2024, 5, 1)) == -1


@given(
    start=st.integers(min_value=0, max_value=90),
    runs=st.lists(st.booleans(), min_size=0, max_size=100),
)
def test_each_reminder_is_sent_at_most_once_and_never_early(start: int, runs: list[bool]) -> None:
    sent: list[int] = []
    for step, runs_today in enumerate(runs):
        left = start - step
        if not runs_today:
            continue
        threshold = reminder_due(left, THRESHOLDS, sent)
        if threshold is not None:
            assert threshold not in sent
            assert 0 <= left <= threshold
            sent.append(threshold)
    # Sent in order of urgency: a looser reminder never follows a tighter one.
    assert sent == sorted(sent, reverse=True)
