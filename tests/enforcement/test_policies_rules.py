"""The rules model and its pure evaluation: defaults, conditions, validation, replay."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.billing import CustomerDelinquent, CustomerInGoodStanding
from partnerguard.common.events.types.common import Money
from partnerguard.common.events.types.enforcement import CaseKind, HoldReason
from partnerguard.common.events.types.monitoring import (
    AlertKind,
    AlertRaised,
    AlertResolution,
    AlertResolved,
    NotificationReceived,
    Severity,
    VendorNotificationKind,
    ViolationKind,
)
from partnerguard.enforcement.policies.defaults import DEFAULT_RULES
from partnerguard.enforcement.policies.replay import PastEvent, compare
from partnerguard.enforcement.policies.rules import (
    Conditions,
    HoldTargetChoice,
    Mode,
    OpenCaseAction,
    PlaceHoldAction,
    PolicyEventType,
    ReleaseHoldAction,
    Rule,
    RuleSet,
    decide,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CUSTOMER = uuid.uuid4()
SUBSCRIPTION = uuid.uuid4()


def notification(kind: VendorNotificationKind, **extra: Any) -> NotificationReceived:
    return NotificationReceived(
        notification_id=uuid.uuid4(),
        vendor_reference="MS-1",
        kind=kind,
        violation=ViolationKind.CRYPTO_MINING
        if kind is VendorNotificationKind.ACCEPTABLE_USE_VIOLATION
        else None,
        customer_id=CUSTOMER,
        vendor_tenant_id=uuid.uuid4(),
        subscription_ids=(SUBSCRIPTION,),
        summary="notice",
        received_at=NOW,
        **extra,
    )


def alert_raised(kind: AlertKind, severity: Severity, rule: str | None = None) -> AlertRaised:
    return AlertRaised(
        alert_id=uuid.uuid4(),
        kind=kind,
        severity=severity,
        customer_id=CUSTOMER,
        subscription_ids=(SUBSCRIPTION,),
        rule=rule,
        summary="alert",
        raised_at=NOW,
    )


def alert_resolved(kind: AlertKind, resolution: AlertResolution) -> AlertResolved:
    return AlertResolved(
        alert_id=uuid.uuid4(),
        kind=kind,
        customer_id=CUSTOMER,
        resolution=resolution,
        resolved_at=NOW,
    )


def delinquent(days: int = 31, amount: int = 10_000) -> CustomerDelinquent:
    return CustomerDelinquent(
        customer_id=CUSTOMER,
        account_id=uuid.uuid4(),
        amount_overdue=Money(amount=amount, currency="EUR"),
        days_overdue=days,
        oldest_invoice_id=uuid.uuid4(),
        since=date(2026, 10, 1),
    )


def good_standing() -> CustomerInGoodStanding:
    return CustomerInGoodStanding(customer_id=CUSTOMER, account_id=uuid.uuid4(), restored_at=NOW)


def effects(event: EventData, rules: tuple[Rule, ...] | list[Rule] = DEFAULT_RULES) -> list[str]:
    return [d.effect() for d in decide(rules, event.event_type, event.model_dump(mode="json"))]


def test_acceptable_use_violation_places_misuse_hold_at_once() -> None:
    event = notification(VendorNotificationKind.ACCEPTABLE_USE_VIOLATION)
    assert effects(event) == ["place_hold:misuse:customer:automatic"]


def test_vendor_enforcement_notice_places_vendor_enforcement_hold() -> None:
    event = notification(VendorNotificationKind.VENDOR_ENFORCEMENT)
    assert effects(event) == ["place_hold:vendor_enforcement:customer:automatic"]


def test_account_compromise_holds_and_opens_a_case() -> None:
    event = notification(VendorNotificationKind.ACCOUNT_COMPROMISE)
    assert effects(event) == [
        "place_hold:compromise:customer:automatic",
        "open_case:account_compromise:automatic",
    ]
    (_, case) = decide(DEFAULT_RULES, event.event_type, event.model_dump(mode="json"))
    assert case.plan.vendor_tenant_id == event.vendor_tenant_id


def test_suspected_fraud_notice_has_no_default_action() -> None:
    assert effects(notification(VendorNotificationKind.SUSPECTED_FRAUD)) == []


def test_delinquency_places_nonpayment_hold() -> None:
    assert effects(delinquent()) == ["place_hold:nonpayment:customer:automatic"]


def test_good_standing_releases_nonpayment_holds_only() -> None:
    assert effects(good_standing()) == ["release_hold:nonpayment:automatic"]


def test_confirmed_crypto_mining_places_misuse_hold() -> None:
    event = alert_resolved(AlertKind.CRYPTO_MINING, AlertResolution.CONFIRMED)
    assert effects(event) == ["place_hold:misuse:customer:automatic"]


def test_false_positive_crypto_mining_does_nothing() -> None:
    event = alert_resolved(AlertKind.CRYPTO_MINING, AlertResolution.FALSE_POSITIVE)
    assert effects(event) == []


def test_critical_crypto_mining_alert_waits_for_approval_on_its_subscriptions() -> None:
    event = alert_raised(AlertKind.CRYPTO_MINING, Severity.CRITICAL)
    (decision,) = decide(DEFAULT_RULES, event.event_type, event.model_dump(mode="json"))
    assert decision.effect() == "place_hold:misuse:subscriptions:approval"
    assert decision.plan.subscription_ids == (SUBSCRIPTION,)


@pytest.mark.parametrize("severity", [Severity.LOW, Severity.MEDIUM, Severity.HIGH])
def test_crypto_mining_below_critical_does_nothing(severity: Severity) -> None:
    assert effects(alert_raised(AlertKind.CRYPTO_MINING, severity)) == []


def test_customer_hold_does_not_carry_the_events_subscriptions() -> None:
    event = notification(VendorNotificationKind.ACCEPTABLE_USE_VIOLATION)
    (decision,) = decide(DEFAULT_RULES, event.event_type, event.model_dump(mode="json"))
    assert decision.plan.subscription_ids == ()


def test_unparseable_or_unknown_events_decide_nothing() -> None:
    assert decide(DEFAULT_RULES, "billing.customer.delinquent", {"customer_id": "x"}) == []
    assert decide(DEFAULT_RULES, "billing.payment.posted", {}) == []


def overdue_rule(**conditions: int) -> Rule:
    return Rule(
        name="overdue",
        event_type=PolicyEventType.CUSTOMER_DELINQUENT,
        conditions=Conditions(**conditions),
        action=PlaceHoldAction(reason=HoldReason.NONPAYMENT),
    )


@given(
    days=st.integers(min_value=1, max_value=400),
    threshold=st.integers(min_value=1, max_value=400),
    amount=st.integers(min_value=0, max_value=10**9),
    min_amount=st.integers(min_value=0, max_value=10**9),
)
def test_overdue_thresholds_are_inclusive_and_anded(
    days: int, threshold: int, amount: int, min_amount: int
) -> None:
    rule = overdue_rule(min_days_overdue=threshold, min_amount_overdue=min_amount)
    fired = effects(delinquent(days=days, amount=amount), [rule]) != []
    assert fired == (days >= threshold and amount >= min_amount)


@given(
    severity=st.sampled_from(list(Severity)),
    minimum=st.sampled_from(list(Severity)),
)
def test_min_severity_follows_severity_order(severity: Severity, minimum: Severity) -> None:
    rule = Rule(
        name="sev",
        event_type=PolicyEventType.ALERT_RAISED,
        conditions=Conditions(min_severity=minimum),
        action=PlaceHoldAction(reason=HoldReason.MISUSE),
    )
    order = list(Severity)
    fired = effects(alert_raised(AlertKind.SPEND_ANOMALY, severity), [rule]) != []
    assert fired == (order.index(severity) >= order.index(minimum))


def test_alert_rule_condition_matches_exact_rule() -> None:
    rule = Rule(
        name="mfa",
        event_type=PolicyEventType.ALERT_RAISED,
        conditions=Conditions(alert_kind=AlertKind.ACTIVITY_RULE, rule="mfa_disabled"),
        action=PlaceHoldAction(reason=HoldReason.FRAUD),
    )
    assert effects(alert_raised(AlertKind.ACTIVITY_RULE, Severity.HIGH, "mfa_disabled"), [rule])
    assert not effects(alert_raised(AlertKind.ACTIVITY_RULE, Severity.HIGH, "new_admin"), [rule])


def test_condition_for_another_event_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_days_overdue does not apply"):
        Rule(
            name="bad",
            event_type=PolicyEventType.ALERT_RAISED,
            conditions=Conditions(min_days_overdue=5),
            action=PlaceHoldAction(reason=HoldReason.MISUSE),
        )


def test_subscription_target_needs_an_event_that_names_subscriptions() -> None:
    with pytest.raises(ValidationError, match="names no subscriptions"):
        Rule(
            name="bad",
            event_type=PolicyEventType.CUSTOMER_DELINQUENT,
            action=PlaceHoldAction(
                reason=HoldReason.NONPAYMENT, target=HoldTargetChoice.SUBSCRIPTIONS
            ),
        )


def test_only_hold_actions_can_wait_for_approval() -> None:
    with pytest.raises(ValidationError, match="can wait for approval"):
        Rule(
            name="bad",
            event_type=PolicyEventType.NOTIFICATION_RECEIVED,
            action=OpenCaseAction(kind=CaseKind.FRAUD),
            mode=Mode.APPROVAL,
        )


def test_rule_names_are_unique_within_a_policy() -> None:
    rule = overdue_rule()
    with pytest.raises(ValidationError, match="used twice"):
        RuleSet(rules=[rule, rule])


def test_defaults_are_a_valid_rule_set() -> None:
    assert RuleSet(rules=list(DEFAULT_RULES)).rules == list(DEFAULT_RULES)


def past(event: EventData) -> PastEvent:
    return PastEvent(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        customer_id=CUSTOMER,
        data=event.model_dump(mode="json"),
        occurred_at=NOW,
    )


def test_replay_lists_events_the_proposal_treats_differently() -> None:
    strict = [
        *[r for r in DEFAULT_RULES if r.name != "delinquency"],
        overdue_rule(min_days_overdue=60),
    ]
    events = [past(delinquent(days=31)), past(delinquent(days=90)), past(good_standing())]
    report = compare(DEFAULT_RULES, strict, events, current_version=0)
    assert report.events_replayed == 3
    assert report.current_actions == 3
    assert report.proposed_actions == 2
    assert report.events_changed == 1
    (change,) = report.changes
    assert change.event_id == events[0].event_id
    assert [e.effect for e in change.current] == ["place_hold:nonpayment:customer:automatic"]
    assert change.proposed == []


def test_replay_ignores_a_renamed_rule_that_does_the_same() -> None:
    renamed = [
        r if r.name != "delinquency" else r.model_copy(update={"name": "late"})
        for r in DEFAULT_RULES
    ]
    report = compare(DEFAULT_RULES, renamed, [past(delinquent())], current_version=0)
    assert report.events_changed == 0


@given(days=st.lists(st.integers(min_value=1, max_value=200), max_size=10))
def test_replaying_the_policy_in_force_changes_nothing(days: list[int]) -> None:
    events = [past(delinquent(days=d)) for d in days]
    report = compare(DEFAULT_RULES, DEFAULT_RULES, events, current_version=0)
    assert report.changes == []
    assert report.current_actions == report.proposed_actions == len(days)


def test_release_rule_keeps_its_reason() -> None:
    (rule,) = [r for r in DEFAULT_RULES if isinstance(r.action, ReleaseHoldAction)]
    assert rule.action.reason is HoldReason.NONPAYMENT
