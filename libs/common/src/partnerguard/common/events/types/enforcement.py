"""Enforcement events: holds, suspensions, approvals and compromise cases."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from partnerguard.common.events.catalog import EventData


class HoldTarget(StrEnum):
    """What a hold applies to: every subscription of a customer, or one subscription."""

    CUSTOMER = "customer"
    SUBSCRIPTION = "subscription"


class HoldReason(StrEnum):
    """Why a hold exists; a hold is released only for its own reason (a payment never lifts fraud)."""

    NONPAYMENT = "nonpayment"
    FRAUD = "fraud"
    MISUSE = "misuse"
    COMPROMISE = "compromise"
    VENDOR_ENFORCEMENT = "vendor_enforcement"
    MANUAL = "manual"


class ActionKind(StrEnum):
    """An action enforcement takes through the vendor's partner API."""

    SUSPEND_SUBSCRIPTION = "suspend_subscription"
    REINSTATE_SUBSCRIPTION = "reinstate_subscription"
    CANCEL_SUBSCRIPTION = "cancel_subscription"


class CaseKind(StrEnum):
    """What a case investigates."""

    ACCOUNT_COMPROMISE = "account_compromise"
    FRAUD = "fraud"


class CaseOutcome(StrEnum):
    """How a case ended."""

    CREDIT_GRANTED = "credit_granted"
    CREDIT_DENIED = "credit_denied"
    # Outside the vendor's rules: activity before 2023-04-01, legacy subscriptions, late, repeat.
    NOT_ELIGIBLE = "not_eligible"
    RESOLVED_WITHOUT_CREDIT = "resolved_without_credit"


CustomerId = Annotated[uuid.UUID, Field(description="PartnerGuard customer ID (UUIDv7).")]
SubscriptionId = Annotated[
    uuid.UUID, Field(description="Subscription ID as the vendor knows it (a GUID).")
]
Actor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Who acted: `policy:<name>` for automatic rules, otherwise the user.",
        examples=["policy:nonpayment"],
    ),
]


class _HoldEvent(EventData):
    """Fields every hold event carries; no event_type, so it is not in the catalog."""

    hold_id: uuid.UUID
    target_type: HoldTarget
    customer_id: CustomerId
    subscription_id: SubscriptionId | None = Field(
        default=None, description="Present exactly when target_type is subscription."
    )
    reason: HoldReason

    @model_validator(mode="after")
    def _target_consistent(self) -> Self:
        if (self.target_type is HoldTarget.SUBSCRIPTION) != (self.subscription_id is not None):
            raise ValueError("subscription_id is given exactly for subscription holds")
        return self


class HoldPlaced(_HoldEvent):
    """Emitted when a hold is placed on a customer or subscription."""

    event_type: ClassVar[str] = "enforcement.hold.placed"

    placed_by: Actor
    source_event_id: uuid.UUID | None = Field(
        default=None, description="The event (alert, delinquency, notice) that caused the hold."
    )
    note: str | None = Field(default=None, max_length=1000)
    placed_at: AwareDatetime


class HoldReleased(_HoldEvent):
    """Emitted when a hold is released; the target is reinstated only once no hold remains."""

    event_type: ClassVar[str] = "enforcement.hold.released"

    released_by: Actor
    active_holds_remaining: int = Field(
        ge=0, description="Holds still active on the same target after this release."
    )
    note: str | None = Field(default=None, max_length=1000)
    released_at: AwareDatetime


class SubscriptionSuspended(EventData):
    """Emitted when the vendor confirms a subscription is suspended."""

    event_type: ClassVar[str] = "enforcement.subscription.suspended"

    customer_id: CustomerId
    subscription_id: SubscriptionId
    action_id: uuid.UUID = Field(description="The provider action that suspended it.")
    hold_ids: tuple[uuid.UUID, ...] = Field(min_length=1, description="Holds active now.")
    reasons: tuple[HoldReason, ...] = Field(min_length=1, description="Reasons of those holds.")
    suspended_at: AwareDatetime


class SubscriptionReinstated(EventData):
    """Emitted when the vendor confirms a suspended subscription is active again."""

    event_type: ClassVar[str] = "enforcement.subscription.reinstated"

    customer_id: CustomerId
    subscription_id: SubscriptionId
    action_id: uuid.UUID = Field(description="The provider action that reinstated it.")
    reinstated_at: AwareDatetime


class ActionPendingApproval(EventData):
    """Emitted when a high-impact enforcement action waits for a human approval."""

    event_type: ClassVar[str] = "enforcement.action.pending_approval"

    action_id: uuid.UUID
    action: ActionKind
    customer_id: CustomerId
    subscription_id: SubscriptionId | None = None
    hold_id: uuid.UUID | None = Field(default=None, description="The hold that asks for it.")
    reason: HoldReason
    requested_by: Actor
    requested_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the request lapses unless approved."
    )


class CaseOpened(EventData):
    """Emitted when a case is opened, e.g. for a verified account compromise."""

    event_type: ClassVar[str] = "enforcement.case.opened"

    case_id: uuid.UUID
    kind: CaseKind
    customer_id: CustomerId
    vendor_tenant_id: uuid.UUID = Field(description="The vendor's customer tenant ID (a GUID).")
    first_fraudulent_usage_on: dt.date | None = Field(
        default=None,
        description="First usage date of the fraudulent activity; starts the 60-day credit window.",
    )
    credit_request_deadline: dt.date | None = Field(
        default=None, description="Last day to file the one-time credit request, if eligible."
    )
    source_event_id: uuid.UUID | None = None
    opened_at: AwareDatetime


class CaseClosed(EventData):
    """Emitted when a case is closed with its outcome."""

    event_type: ClassVar[str] = "enforcement.case.closed"

    case_id: uuid.UUID
    kind: CaseKind
    customer_id: CustomerId
    outcome: CaseOutcome
    note: str | None = Field(default=None, max_length=1000)
    closed_at: AwareDatetime


class CreditRequestDeadlineNear(EventData):
    """Emitted at 30, 7 and 1 days before the deadline, once each, while the credit is unfiled."""

    event_type: ClassVar[str] = "enforcement.credit_request.deadline_near"

    case_id: uuid.UUID
    customer_id: CustomerId
    vendor_tenant_id: uuid.UUID = Field(description="The vendor's customer tenant ID (a GUID).")
    first_fraudulent_usage_on: dt.date
    deadline: dt.date = Field(description="Last day to file (60 calendar days after first usage).")
    days_left: int = Field(ge=0, description="Calendar days from today to the deadline.")
