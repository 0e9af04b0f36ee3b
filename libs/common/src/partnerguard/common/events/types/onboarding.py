"""Onboarding events: a customer application from submission to decision, and its checks."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field

from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.common import (
    CountryCode,
    IpAddress,
    ReasonCode,
    ValueModel,
)


class RiskTier(StrEnum):
    """Risk tier given at approval; billing derives prepayment and exposure limits from it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Decider(StrEnum):
    """Who took an onboarding decision: the scoring rules alone, or a human reviewer."""

    AUTOMATIC = "automatic"
    REVIEWER = "reviewer"


class VerificationChannel(StrEnum):
    """The kind of check a verification ran."""

    SMS = "sms"
    EMAIL = "email"
    MFA = "mfa"
    IDENTITY = "identity"
    CREDIT = "credit"


class VerificationResult(StrEnum):
    """Outcome of one verification check."""

    PASSED = "passed"
    FAILED = "failed"
    # The provider answered but could not say (thin credit file, unreadable document).
    INCONCLUSIVE = "inconclusive"
    # Nobody completed the check in time (an SMS or e-mail code never entered).
    EXPIRED = "expired"


class RiskReason(ValueModel):
    """One reason behind a review or rejection, machine- and human-readable."""

    code: ReasonCode = Field(examples=["high_risk_region"])
    detail: str = Field(
        max_length=500, description="Human-readable explanation, safe to show to the partner."
    )


CustomerId = Annotated[uuid.UUID, Field(description="PartnerGuard customer ID (UUIDv7).")]
ApplicationId = Annotated[
    uuid.UUID,
    Field(description="The onboarding application this decision or check belongs to."),
]
VendorTenantId = Annotated[
    uuid.UUID, Field(description="The vendor's customer tenant ID (a GUID), once known.")
]


class CustomerSubmitted(EventData):
    """Emitted when a partner submits a customer application for onboarding."""

    event_type: ClassVar[str] = "onboarding.customer.submitted"

    customer_id: CustomerId
    application_id: ApplicationId
    company_name: str = Field(min_length=1, max_length=200)
    country: CountryCode
    primary_domain: str | None = Field(
        default=None, max_length=253, description="The customer's main DNS domain, if given."
    )
    vendor_tenant_id: VendorTenantId | None = None
    submitted_at: AwareDatetime


class CustomerReviewRequired(EventData):
    """Emitted when scoring neither approves nor rejects an application and it joins the review queue."""

    event_type: ClassVar[str] = "onboarding.customer.review_required"

    customer_id: CustomerId
    application_id: ApplicationId
    risk_score: int = Field(ge=0, le=100, description="0 (no risk signal) to 100.")
    reasons: tuple[RiskReason, ...] = Field(min_length=1)
    queued_at: AwareDatetime


class CustomerApproved(EventData):
    """Emitted when an application is approved; billing opens an account and enforcement registers the customer."""

    event_type: ClassVar[str] = "onboarding.customer.approved"

    customer_id: CustomerId
    application_id: ApplicationId
    risk_tier: RiskTier
    prepayment_required: bool = Field(
        description="Whether billing must collect prepayment before the customer may order."
    )
    vendor_tenant_id: VendorTenantId | None = None
    country: CountryCode
    decided_by: Decider
    approved_at: AwareDatetime


class CustomerRejected(EventData):
    """Emitted when an application is rejected, automatically or by a reviewer."""

    event_type: ClassVar[str] = "onboarding.customer.rejected"

    customer_id: CustomerId
    application_id: ApplicationId
    reasons: tuple[RiskReason, ...] = Field(min_length=1)
    decided_by: Decider
    rejected_at: AwareDatetime


class VerificationCompleted(EventData):
    """Emitted when one verification check of an application reaches a result."""

    event_type: ClassVar[str] = "onboarding.verification.completed"

    verification_id: uuid.UUID
    customer_id: CustomerId
    application_id: ApplicationId
    channel: VerificationChannel
    result: VerificationResult
    attempts: int = Field(ge=1, description="Attempts used, e.g. codes entered.")
    completed_at: AwareDatetime


class CollectionsPolicyAccepted(EventData):
    """Emitted when a customer accepts the partner's collections policy (evidence for dunning)."""

    event_type: ClassVar[str] = "onboarding.collections_policy.accepted"

    customer_id: CustomerId
    application_id: ApplicationId
    policy_version: str = Field(
        min_length=1, max_length=64, description="Version of the policy text accepted."
    )
    accepted_by: str = Field(
        min_length=1, max_length=200, description="Name or e-mail of who accepted, as entered."
    )
    accepted_at: AwareDatetime
    ip_address: IpAddress = Field(description="Address the acceptance was submitted from.")
    user_agent: str | None = Field(default=None, max_length=500)
