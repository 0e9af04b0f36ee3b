"""The public contract of billing accounts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from partnerguard.billing.invoices.schemas import MAX_AMOUNT
from partnerguard.billing.money import Currency
from partnerguard.common.events.types.common import CountryCode, Money
from partnerguard.common.events.types.onboarding import RiskTier


class AccountStatus(StrEnum):
    # Waiting for an accepted payment instrument, or for the required prepayment to post.
    PENDING = "pending"
    # Cleared for provisioning; stays so.
    CLEARED = "cleared"


class AccountIn(BaseModel):
    """Open an account for a customer (accounts also open on their own when onboarding approves)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    currency: Currency
    country: CountryCode = Field(description="Whose business-day calendar times payment posting.")
    risk_tier: RiskTier | None = None
    credit_limit: int | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        description="Minor units of `currency`; null for no limit.",
    )
    prepayment_required: bool = False
    prepayment_amount: int = Field(
        default=0,
        ge=0,
        le=MAX_AMOUNT,
        description="Minor units that must post before the account clears.",
    )
    billing_email: EmailStr | None = Field(default=None, description="Where dunning notices go.")
    vendor_tenant_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _prepayment_has_an_amount(self) -> Self:
        if self.prepayment_required and self.prepayment_amount <= 0:
            raise ValueError("prepayment_amount must be positive when prepayment is required")
        return self


class AccountPatch(BaseModel):
    """Change an account's terms; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    risk_tier: RiskTier | None = None
    credit_limit: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    remove_credit_limit: bool = Field(default=False, description="Make the account unlimited.")
    prepayment_required: bool | None = None
    prepayment_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    billing_email: EmailStr | None = None
    country: CountryCode | None = None

    @model_validator(mode="after")
    def _one_limit_instruction(self) -> Self:
        if self.remove_credit_limit and self.credit_limit is not None:
            raise ValueError("give credit_limit or remove_credit_limit, not both")
        return self


class AccountOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: AccountStatus
    currency: str
    country: str
    risk_tier: RiskTier | None
    credit_limit: Money | None
    prepayment_required: bool
    prepayment: Money = Field(description="What must post before the account clears.")
    prepayment_received: Money = Field(description="Posted payments so far, reversals excluded.")
    credit_balance: Money = Field(description="Posted money not yet applied to any invoice.")
    billing_email: str | None
    vendor_tenant_id: uuid.UUID | None
    opened_by: str = Field(description="`event` (onboarding approval) or `api`.")
    cleared_at: datetime | None
    delinquent_since: date | None = Field(
        description="Due date of the oldest invoice that reached the suspension step, while "
        "the customer is delinquent."
    )
    created_at: datetime
    updated_at: datetime
