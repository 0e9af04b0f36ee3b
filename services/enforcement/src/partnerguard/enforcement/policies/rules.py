"""The rules model (versioned data) and the pure evaluation of rules against one event.

A rule names the event type it listens to, optional conditions (all must hold), one action,
and whether the action is carried out at once or waits for approval. Nothing here does I/O:
the engine stores, loads and carries out; replay compares two rule sets over past events.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.billing import CustomerDelinquent, CustomerInGoodStanding
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


class PolicyEventType(StrEnum):
    """The consumed event types a rule may listen to."""

    NOTIFICATION_RECEIVED = NotificationReceived.event_type
    ALERT_RAISED = AlertRaised.event_type
    ALERT_RESOLVED = AlertResolved.event_type
    CUSTOMER_DELINQUENT = CustomerDelinquent.event_type
    CUSTOMER_IN_GOOD_STANDING = CustomerInGoodStanding.event_type


PAYLOADS: dict[PolicyEventType, type[EventData]] = {
    PolicyEventType.NOTIFICATION_RECEIVED: NotificationReceived,
    PolicyEventType.ALERT_RAISED: AlertRaised,
    PolicyEventType.ALERT_RESOLVED: AlertResolved,
    PolicyEventType.CUSTOMER_DELINQUENT: CustomerDelinquent,
    PolicyEventType.CUSTOMER_IN_GOOD_STANDING: CustomerInGoodStanding,
}

_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}

# Which event types each condition can be tested on; any other pairing is refused (422).
_CONDITION_EVENTS: dict[str, frozenset[PolicyEventType]] = {
    "alert_kind": frozenset({PolicyEventType.ALERT_RAISED, PolicyEventType.ALERT_RESOLVED}),
    "min_severity": frozenset({PolicyEventType.ALERT_RAISED}),
    "rule": frozenset({PolicyEventType.ALERT_RAISED}),
    "resolution": frozenset({PolicyEventType.ALERT_RESOLVED}),
    "notification_kind": frozenset({PolicyEventType.NOTIFICATION_RECEIVED}),
    "violation": frozenset({PolicyEventType.NOTIFICATION_RECEIVED}),
    "min_days_overdue": frozenset({PolicyEventType.CUSTOMER_DELINQUENT}),
    "min_amount_overdue": frozenset({PolicyEventType.CUSTOMER_DELINQUENT}),
}
# Events that name subscriptions, for holds on "the subscriptions of the event".
_EVENTS_WITH_SUBSCRIPTIONS = frozenset(
    {PolicyEventType.ALERT_RAISED, PolicyEventType.NOTIFICATION_RECEIVED}
)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Closed):
    """What the event must show for the rule to fire; every condition given must hold."""

    alert_kind: AlertKind | None = None
    min_severity: Severity | None = Field(
        default=None, description="The alert's severity is at least this."
    )
    rule: str | None = Field(
        default=None, min_length=1, max_length=100, description="The alert rule that fired."
    )
    resolution: AlertResolution | None = None
    notification_kind: VendorNotificationKind | None = None
    violation: ViolationKind | None = None
    min_days_overdue: int | None = Field(default=None, ge=1, le=3650)
    min_amount_overdue: int | None = Field(
        default=None, ge=0, description="In minor units of the overdue amount's currency."
    )

    def given(self) -> set[str]:
        return {name for name, value in self if value is not None}


class HoldTargetChoice(StrEnum):
    """Hold the customer as a whole, or only the subscriptions the event names."""

    CUSTOMER = "customer"
    SUBSCRIPTIONS = "subscriptions"


class PlaceHoldAction(_Closed):
    type: Literal["place_hold"] = "place_hold"
    reason: HoldReason
    target: HoldTargetChoice = HoldTargetChoice.CUSTOMER


class ReleaseHoldAction(_Closed):
    type: Literal["release_hold"] = "release_hold"
    reason: HoldReason = Field(
        description="Only holds of this reason are released (a payment never lifts fraud)."
    )


class OpenCaseAction(_Closed):
    type: Literal["open_case"] = "open_case"
    kind: CaseKind


class NotifyAction(_Closed):
    type: Literal["notify"] = "notify"
    message: str | None = Field(default=None, max_length=500)


Action = Annotated[
    PlaceHoldAction | ReleaseHoldAction | OpenCaseAction | NotifyAction,
    Field(discriminator="type"),
]


class Mode(StrEnum):
    AUTOMATIC = "automatic"
    APPROVAL = "approval"


RuleName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, examples=["delinquency"]),
]


class Rule(_Closed):
    """From one event type and its conditions to one action."""

    name: RuleName
    event_type: PolicyEventType
    conditions: Conditions = Conditions()
    action: Action
    mode: Mode = Mode.AUTOMATIC
    approvals_required: Literal[1, 2] = Field(
        default=1, description="With mode approval: approvals from distinct clients needed."
    )
    approval_ttl_hours: float | None = Field(
        default=None,
        gt=0,
        le=24 * 90,
        description="With mode approval: when the request lapses (default: the service's).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in sorted(self.conditions.given()):
            if self.event_type not in _CONDITION_EVENTS[name]:
                raise ValueError(f"condition {name} does not apply to {self.event_type.value}")
        if (
            isinstance(self.action, PlaceHoldAction)
            and self.action.target is HoldTargetChoice.SUBSCRIPTIONS
            and self.event_type not in _EVENTS_WITH_SUBSCRIPTIONS
        ):
            raise ValueError(f"{self.event_type.value} names no subscriptions to hold")
        if self.mode is Mode.APPROVAL and not isinstance(
            self.action, PlaceHoldAction | ReleaseHoldAction
        ):
            # enforcement.action.pending_approval describes hold actions only.
            raise ValueError("only place_hold and release_hold actions can wait for approval")
        return self


class RuleSet(_Closed):
    """A whole policy's rules: names unique, order kept (it is the order actions run in)."""

    rules: list[Rule] = Field(max_length=200)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name} is used twice")
            seen.add(rule.name)
        return self


class Plan(_Closed):
    """One action worked out for one event: what to do, to what (stored with a pending action)."""

    action: Action
    subscription_ids: tuple[uuid.UUID, ...] = ()
    vendor_tenant_id: uuid.UUID | None = None
    summary: str | None = None
    # A compromise notice's first day of fraudulent usage: the credit clock's start.
    first_fraudulent_usage_on: date | None = None


@dataclass(frozen=True)
class Decision:
    """A rule that fired on an event, and how its action is to be carried out."""

    rule: str
    mode: Mode
    approvals_required: int
    approval_ttl_hours: float | None
    plan: Plan

    def effect(self) -> str:
        """A stable description of what the decision does, for comparing two policies."""
        action = self.plan.action
        match action:
            case PlaceHoldAction():
                what = f"place_hold:{action.reason.value}:{action.target.value}"
            case ReleaseHoldAction():
                what = f"release_hold:{action.reason.value}"
            case OpenCaseAction():
                what = f"open_case:{action.kind.value}"
            case NotifyAction():
                what = "notify"
        return f"{what}:{self.mode.value}"


def parse_payload(event_type: str, data: Mapping[str, object]) -> EventData | None:
    """The typed payload of a policy event; None for other types or a payload that does not parse."""
    try:
        model = PAYLOADS[PolicyEventType(event_type)]
    except ValueError:
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _matches(conditions: Conditions, payload: EventData) -> bool:
    checks: list[bool] = []
    if conditions.alert_kind is not None:
        checks.append(
            isinstance(payload, AlertRaised | AlertResolved)
            and payload.kind is conditions.alert_kind
        )
    if conditions.min_severity is not None:
        checks.append(
            isinstance(payload, AlertRaised)
            and _SEVERITY_RANK[payload.severity] >= _SEVERITY_RANK[conditions.min_severity]
        )
    if conditions.rule is not None:
        checks.append(isinstance(payload, AlertRaised) and payload.rule == conditions.rule)
    if conditions.resolution is not None:
        checks.append(
            isinstance(payload, AlertResolved) and payload.resolution is conditions.resolution
        )
    if conditions.notification_kind is not None:
        checks.append(
            isinstance(payload, NotificationReceived)
            and payload.kind is conditions.notification_kind
        )
    if conditions.violation is not None:
        checks.append(
            isinstance(payload, NotificationReceived) and payload.violation is conditions.violation
        )
    if conditions.min_days_overdue is not None:
        checks.append(
            isinstance(payload, CustomerDelinquent)
            and payload.days_overdue >= conditions.min_days_overdue
        )
    if conditions.min_amount_overdue is not None:
        checks.append(
            isinstance(payload, CustomerDelinquent)
            and payload.amount_overdue.amount >= conditions.min_amount_overdue
        )
    return all(checks)


def _plan(
    action: PlaceHoldAction | ReleaseHoldAction | OpenCaseAction | NotifyAction, payload: EventData
) -> Plan:
    subscription_ids: tuple[uuid.UUID, ...] = ()
    vendor_tenant_id: uuid.UUID | None = None
    summary: str | None = None
    first_usage: date | None = None
    if isinstance(payload, AlertRaised):
        subscription_ids, summary = payload.subscription_ids, payload.summary
    elif isinstance(payload, NotificationReceived):
        subscription_ids, summary = payload.subscription_ids, payload.summary
        vendor_tenant_id = payload.vendor_tenant_id
        first_usage = payload.first_fraudulent_usage_on
    elif isinstance(payload, AlertResolved):
        summary = payload.note
    if not (
        isinstance(action, PlaceHoldAction) and action.target is HoldTargetChoice.SUBSCRIPTIONS
    ):
        subscription_ids = ()
    return Plan(
        action=action,
        subscription_ids=subscription_ids,
        vendor_tenant_id=vendor_tenant_id,
        summary=summary,
        first_fraudulent_usage_on=first_usage,
    )


def decide(rules: Sequence[Rule], event_type: str, data: Mapping[str, object]) -> list[Decision]:
    """The rules that fire on this event, in policy order, with the action each calls for."""
    payload = parse_payload(event_type, data)
    if payload is None:
        return []
    return [
        Decision(
            rule=rule.name,
            mode=rule.mode,
            approvals_required=rule.approvals_required,
            approval_ttl_hours=rule.approval_ttl_hours,
            plan=_plan(rule.action, payload),
        )
        for rule in rules
        if rule.event_type.value == event_type and _matches(rule.conditions, payload)
    ]
