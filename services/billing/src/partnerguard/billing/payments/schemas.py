"""The public contract of payments: record, post, reverse, read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from partnerguard.billing.invoices.schemas import MAX_AMOUNT, AllocationOut
from partnerguard.billing.models import PaymentStatus
from partnerguard.billing.money import Currency
from partnerguard.common.events.types.billing import InstrumentType, ReversalReason
from partnerguard.common.events.types.common import Money

MAX_INVOICE_HINTS = 100


class MoneyIn(BaseModel):
    """A positive amount in integer minor units (never a float, never a string)."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Integer minor units of `currency`.")
    currency: Currency


class RecordedAs(StrEnum):
    # The customer says it paid; the money has not arrived (dunning pauses until `expected_by`).
    REPORTED = "reported"
    # The money is already on the account: it is applied at once.
    POSTED = "posted"


class PaymentIn(BaseModel):
    """Record a payment for an account, in the account's currency."""

    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    amount: MoneyIn
    method: InstrumentType
    reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)]
        | None
    ) = Field(default=None, description="Remittance reference.")
    invoice_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_INVOICE_HINTS,
        description="Invoices of the account the payer says it covers; kept and announced, but "
        "the money is still applied oldest invoice first.",
    )
    status: RecordedAs = RecordedAs.REPORTED

    @field_validator("invoice_ids")
    @classmethod
    def _distinct(cls, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(ids)) != len(ids):
            raise ValueError("invoice_ids must not repeat an invoice")
        return ids


class ReversalIn(BaseModel):
    """Take a payment back: the bank returned it, or the cardholder charged it back."""

    model_config = ConfigDict(extra="forbid")

    reason: ReversalReason
    detail: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class PaymentOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    amount: Money
    method: InstrumentType
    reference: str | None
    invoice_ids: list[uuid.UUID] = Field(description="The payer's hint, as recorded.")
    status: PaymentStatus
    reported_at: datetime | None
    expected_by: date | None = Field(
        description="Last business day a reported payment may take to post; dunning of the "
        "account pauses until then."
    )
    posted_at: datetime | None
    allocated: Money = Field(description="Applied to invoices.")
    unallocated: Money = Field(
        description="Posted but not applied: the payment's part of the account's credit balance."
    )
    reversed_at: datetime | None
    reversal_reason: ReversalReason | None
    reversal_detail: str | None
    recorded_by: str
    created_at: datetime
    updated_at: datetime


class PaymentDetail(PaymentOut):
    allocations: list[AllocationOut]
