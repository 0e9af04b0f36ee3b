"""Monitoring events: daily spend, alerts, budgets and the vendor's notifications."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import AwareDatetime, Field, StrictFloat, StrictInt, StrictStr, model_validator

from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.common import CurrencyCode, DecimalString, Month


class AlertKind(StrEnum):
    """What detected an alert."""

    SPEND_ANOMALY = "spend_anomaly"
    NEW_CUSTOMER_BURST = "new_customer_burst"
    CRYPTO_MINING = "crypto_mining"
    FIRST_SEEN_RESOURCE = "first_seen_resource"
    BUDGET_FORECAST = "budget_forecast"
    ACTIVITY_RULE = "activity_rule"
    VENDOR_NOTIFICATION = "vendor_notification"


class Severity(StrEnum):
    """How urgent an alert is; enforcement policies key on it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertResolution(StrEnum):
    """How an alert was closed."""

    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class VendorNotificationKind(StrEnum):
    """The kind of notice the vendor sent about a customer."""

    SUSPECTED_FRAUD = "suspected_fraud"
    ACCEPTABLE_USE_VIOLATION = "acceptable_use_violation"
    ACCOUNT_COMPROMISE = "account_compromise"
    VENDOR_ENFORCEMENT = "vendor_enforcement"


class ViolationKind(StrEnum):
    """What an acceptable-use violation notice is about."""

    CRYPTO_MINING = "crypto_mining"
    SPAM = "spam"
    HACKING = "hacking"
    DDOS = "ddos"
    MALWARE = "malware"
    PIRATED_RESALE = "pirated_resale"


CustomerId = Annotated[uuid.UUID, Field(description="PartnerGuard customer ID (UUIDv7).")]
SubscriptionIds = Annotated[
    tuple[uuid.UUID, ...],
    Field(description="Subscription IDs as the vendor knows them (GUIDs)."),
]
# Strict members: a bool must not pass as 1, and NaN or infinity cannot be written as JSON.
EvidenceValue = StrictStr | StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]


class DailySpend(EventData):
    """Emitted when a customer's usage for a UTC day is aggregated, and again if late records change it."""

    event_type: ClassVar[str] = "monitoring.spend.daily"

    customer_id: CustomerId
    day: dt.date = Field(description="The UTC day aggregated.")
    cost: DecimalString
    currency: CurrencyCode
    record_count: int = Field(ge=0, description="Distinct usage records in the total.")
    computed_at: AwareDatetime = Field(
        description="When this total was computed; the latest one for a day supersedes earlier ones."
    )


class AlertRaised(EventData):
    """Emitted when a detector raises an alert about a customer or a partner's customers."""

    event_type: ClassVar[str] = "monitoring.alert.raised"

    alert_id: uuid.UUID
    kind: AlertKind
    severity: Severity
    customer_id: CustomerId | None = Field(
        default=None,
        description="The customer concerned; null only for an alert about no one customer.",
    )
    subscription_ids: SubscriptionIds = ()
    rule: str | None = Field(
        default=None,
        max_length=100,
        description="The activity rule or detector variant that fired, e.g. mfa_disabled.",
    )
    summary: str = Field(min_length=1, max_length=500)
    evidence: dict[str, EvidenceValue] = Field(
        default_factory=dict,
        description="The numbers that fired the alert (observed, baseline, z-score, ...).",
    )
    raised_at: AwareDatetime


class AlertResolved(EventData):
    """Emitted when an alert is closed as confirmed or as a false positive."""

    event_type: ClassVar[str] = "monitoring.alert.resolved"

    alert_id: uuid.UUID
    kind: AlertKind
    customer_id: CustomerId | None = None
    resolution: AlertResolution
    note: str | None = Field(default=None, max_length=1000)
    resolved_at: AwareDatetime


class BudgetThresholdReached(EventData):
    """Emitted when a customer's spend in a month reaches a threshold of its monthly budget."""

    event_type: ClassVar[str] = "monitoring.budget.threshold_reached"

    budget_id: uuid.UUID
    customer_id: CustomerId
    month: Month
    threshold_percent: int = Field(
        ge=1, le=1000, description="The threshold crossed, in percent of the budget (may pass 100)."
    )
    spent: DecimalString = Field(description="Spend so far this month, in `currency`.")
    budget: DecimalString = Field(description="The monthly budget, in `currency`.")
    currency: CurrencyCode
    reached_at: AwareDatetime


class NotificationReceived(EventData):
    """Emitted when a notification from the vendor about a customer is recorded."""

    event_type: ClassVar[str] = "monitoring.notification.received"

    notification_id: uuid.UUID
    vendor_reference: str = Field(
        min_length=1, max_length=200, description="The vendor's own ID for the notice."
    )
    kind: VendorNotificationKind
    violation: ViolationKind | None = Field(
        default=None,
        description="What was violated; present exactly when kind is acceptable_use_violation.",
    )
    customer_id: CustomerId | None = Field(
        default=None, description="The customer matched by tenant; null when none matches."
    )
    vendor_tenant_id: uuid.UUID = Field(description="The vendor's customer tenant ID (a GUID).")
    subscription_ids: SubscriptionIds = ()
    summary: str = Field(min_length=1, max_length=2000)
    received_at: AwareDatetime
    respond_by: AwareDatetime | None = Field(
        default=None, description="The vendor's deadline for the partner's response, if any."
    )
    first_fraudulent_usage_on: dt.date | None = Field(
        default=None,
        description="Account compromise: the first day of the fraudulent usage, when the "
        "vendor's notice says it (it starts the one-time credit's 60-day window).",
    )

    @model_validator(mode="after")
    def _violation_matches_kind(self) -> Self:
        is_violation = self.kind is VendorNotificationKind.ACCEPTABLE_USE_VIOLATION
        if is_violation != (self.violation is not None):
            raise ValueError("violation is given exactly for acceptable_use_violation notices")
        return self


class NotificationStage(StrEnum):
    """Where a vendor notification's response clock stands: received → in review → actioned →
    responded."""

    RECEIVED = "received"
    IN_REVIEW = "in_review"
    ACTIONED = "actioned"
    RESPONDED = "responded"


class NotificationOverdue(EventData):
    """Emitted once per stage when a vendor notification has not reached that stage by its deadline."""

    event_type: ClassVar[str] = "monitoring.notification.overdue"

    notification_id: uuid.UUID
    kind: VendorNotificationKind
    customer_id: CustomerId | None = None
    vendor_tenant_id: uuid.UUID = Field(description="The vendor's customer tenant ID (a GUID).")
    missed_stage: NotificationStage = Field(
        description="The stage the notification should have reached (in_review, actioned or responded)."
    )
    status: NotificationStage = Field(description="Where the notification stands now.")
    due_at: AwareDatetime = Field(description="The deadline that passed.")
    respond_by: AwareDatetime = Field(description="The deadline for the response to the vendor.")
