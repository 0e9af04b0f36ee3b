"""The public contract of the registry: customers and their subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.enforcement.holds.schemas import HoldOut
from partnerguard.enforcement.models import Customer, Subscription


class Commerce(StrEnum):
    # Only new-commerce subscriptions qualify for the one-time compromise credit.
    NEW_COMMERCE = "new_commerce"
    LEGACY = "legacy"


class CustomerIn(BaseModel):
    """Record a customer, or change what is known of it; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    vendor_tenant_id: uuid.UUID | None = Field(
        default=None, description="The vendor's customer tenant ID (a GUID)."
    )
    risk_tier: RiskTier | None = None
    approved_at: AwareDatetime | None = Field(
        default=None,
        description="When onboarding approved the customer; an older approval than the one "
        "recorded changes nothing.",
    )
    mfa_attested: bool | None = None
    budget_set: bool | None = None
    prepayment_cleared: bool | None = None


class CustomerOut(BaseModel):
    customer_id: uuid.UUID
    vendor_tenant_id: uuid.UUID | None
    risk_tier: RiskTier | None
    approved_at: datetime | None
    mfa_attested: bool
    budget_set: bool
    prepayment_cleared: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(
            customer_id=customer.customer_id,
            vendor_tenant_id=customer.vendor_tenant_id,
            risk_tier=RiskTier(customer.risk_tier) if customer.risk_tier else None,
            approved_at=customer.approved_at,
            mfa_attested=customer.mfa_attested,
            budget_set=customer.budget_set,
            prepayment_cleared=customer.prepayment_cleared,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class SubscriptionIn(BaseModel):
    """Register a subscription of the customer at the vendor."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: uuid.UUID = Field(description="The vendor's subscription ID (a GUID).")
    commerce: Commerce
    offer: str | None = Field(default=None, min_length=1, max_length=200)


class SubscriptionOut(BaseModel):
    subscription_id: uuid.UUID
    customer_id: uuid.UUID
    commerce: Commerce
    offer: str | None
    status: str = Field(description="The vendor's status as last confirmed.")
    desired_status: str = Field(
        description="`suspended` while any active hold covers it, else `active`."
    )
    revision: int = Field(description="Bumped at every change of the desired status.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            subscription_id=subscription.subscription_id,
            customer_id=subscription.customer_id,
            commerce=Commerce(subscription.commerce),
            offer=subscription.offer,
            status=subscription.status,
            desired_status=subscription.desired_status,
            revision=subscription.revision,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class CustomerDetailOut(CustomerOut):
    subscriptions: list[SubscriptionOut]
    active_holds: list[HoldOut]
