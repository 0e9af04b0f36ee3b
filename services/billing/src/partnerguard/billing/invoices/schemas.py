"""The public contract of invoices, their lines, credit notes and disputes."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from partnerguard.billing.invoices.state import line_amount
from partnerguard.billing.models import InvoiceStatus
from partnerguard.billing.money import Currency
from partnerguard.common.events.types.common import Money

# Largest amount in minor units anywhere on an invoice: far beyond any real invoice, far below
# what a 64-bit column holds, so sums of many lines cannot overflow.
MAX_AMOUNT = 10**15
MAX_LINES = 500

_QUANTITY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"
_QUANTITY = re.compile(_QUANTITY_PATTERN)


def _quantity(value: object) -> Decimal:
    # A float has already lost the exact quantity it claims to carry; an int is fine as text.
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise ValueError("expected a decimal string with at most 6 decimal places, e.g. '1.5'")
    quantity = Decimal(value)
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    return quantity


def _plain(value: Decimal) -> str:
    """Fixed-point text without trailing zeros: 1.500000 → '1.5', 100 → '100'."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


Quantity = Annotated[
    Decimal,
    PlainValidator(_quantity),
    PlainSerializer(_plain, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _QUANTITY_PATTERN,
            "description": "Positive decimal quantity as a string, at most 6 decimal places.",
            "examples": ["1.5"],
        }
    ),
]
# As answered: the stored quantity without its padding zeros.
QuantityText = Annotated[
    Decimal,
    PlainSerializer(_plain, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["1.5"]}),
]
InvoiceNumber = Annotated[
    str,
    # Printable ASCII, no leading or trailing space: it is printed and searched for.
    StringConstraints(pattern=r"^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$"),
    Field(description="Invoice number as printed, unique per partner.", examples=["2026-0042"]),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    quantity: Quantity
    unit_amount: StrictInt = Field(
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        description="Minor units of the invoice currency; negative for a discount line.",
    )


class InvoiceIn(BaseModel):
    """Issue an invoice to an account, in the account's currency."""

    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    number: InvoiceNumber | None = Field(
        default=None, description="Left out: one is generated from the invoice id."
    )
    currency: Currency = Field(description="Must be the account's currency.")
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    terms_days: StrictInt = Field(
        ge=0, le=365, description="Net N: due N calendar days after issue (0 = on receipt)."
    )
    issued_on: date | None = Field(
        default=None, description="Defaults to today (UTC); an earlier date imports or backdates."
    )
    period_start: date | None = Field(default=None, description="First day billed.")
    period_end: date | None = Field(default=None, description="Last day billed, inclusive.")
    memo: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (
            self.period_start is not None
            and self.period_end is not None
            and self.period_end < self.period_start
        ):
            raise ValueError("period_end precedes period_start")
        amounts = [line_amount(line.quantity, line.unit_amount) for line in self.lines]
        if any(abs(amount) > MAX_AMOUNT for amount in amounts):
            raise ValueError(f"a line amount must not exceed {MAX_AMOUNT} minor units")
        total = sum(amounts)
        if total <= 0:
            raise ValueError("the invoice total must be positive")
        if total > MAX_AMOUNT:
            raise ValueError(f"the invoice total must not exceed {MAX_AMOUNT} minor units")
        return self


class CreditNoteIn(BaseModel):
    """Reduce what an open invoice owes."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(
        gt=0, le=MAX_AMOUNT, description="Minor units of the invoice currency; at most its balance."
    )
    reason: Reason


class ReasonIn(BaseModel):
    """Why: for voiding, writing off or disputing an invoice."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class LineOut(BaseModel):
    position: int
    description: str
    quantity: QuantityText
    unit_amount: int = Field(description="Minor units of the invoice currency.")
    amount: int = Field(description="quantity × unit_amount, rounded half up.")


class AllocationOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money
    created_at: datetime
    reversed_at: datetime | None = Field(description="Set when the payment was reversed.")


class CreditNoteOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    amount: Money
    reason: str
    created_by: str
    created_at: datetime


class InvoiceOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    number: str
    currency: str
    status: InvoiceStatus
    issued_on: date
    terms_days: int
    due_on: date
    period_start: date | None
    period_end: date | None
    memo: str | None
    total: Money
    paid: Money = Field(description="Payments applied to it (reversed ones excluded).")
    credited: Money = Field(description="Credit notes against it.")
    balance: Money = Field(description="What it owes now; zero once void or uncollectible.")
    written_off: Money | None = Field(
        description="What voiding or writing it off cancelled; null while it is not."
    )
    disputed_at: datetime | None = Field(description="Set while disputed: dunning skips it.")
    dispute_reason: str | None
    settled_at: datetime | None = Field(description="When it was paid, voided or written off.")
    settled_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class InvoiceDetail(InvoiceOut):
    lines: list[LineOut]
    allocations: list[AllocationOut]
    credit_notes: list[CreditNoteOut]


class InvoiceFilters(BaseModel):
    account_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    status: InvoiceStatus | None = None
    overdue_as_of: date | None = None
