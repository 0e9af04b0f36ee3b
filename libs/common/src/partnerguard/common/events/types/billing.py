"""Billing events: accounts, instruments, invoices, payments, dunning and standing."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.common import CurrencyCode, Money


class InstrumentType(StrEnum):
    """How a customer pays."""

    CARD = "card"
    # Gift cards, e-wallet balances and other prepaid value not tied to a bank account.
    STORED_VALUE = "stored_value"
    DIRECT_DEBIT = "direct_debit"
    BANK_TRANSFER = "bank_transfer"
    # Payment against invoices on agreed terms, with no instrument on file.
    INVOICE_TERMS = "invoice_terms"


class InstrumentRejection(StrEnum):
    """Why a payment instrument was not accepted."""

    DECLINED = "declined"
    EXPIRED = "expired"
    # Prepaid and single-use virtual cards are a classic fraud vehicle for cloud resale.
    PREPAID_CARD = "prepaid_card"
    STORED_VALUE = "stored_value"
    # A class of instrument the partner's own policy refuses (see the detail for which).
    POLICY_REFUSED = "policy_refused"
    VIRTUAL_CARD = "virtual_card"
    COUNTRY_MISMATCH = "country_mismatch"
    NAME_MISMATCH = "name_mismatch"
    VERIFICATION_FAILED = "verification_failed"


class ReversalReason(StrEnum):
    """Why a posted payment was taken back."""

    # The bank returned it (bounced direct debit, recalled transfer).
    REVERSAL = "reversal"
    # The cardholder disputed it: also a fraud signal.
    CHARGEBACK = "chargeback"


class InvoiceOutcome(StrEnum):
    """How an invoice stopped being open."""

    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class DunningStep(StrEnum):
    """Steps of the dunning policy, in the order they run."""

    REMINDER = "reminder"
    WARNING = "warning"
    FINAL_NOTICE = "final_notice"
    SUSPENSION_REQUEST = "suspension_request"
    TERMINATION_REQUEST = "termination_request"


CustomerId = Annotated[uuid.UUID, Field(description="PartnerGuard customer ID (UUIDv7).")]
AccountId = Annotated[uuid.UUID, Field(description="The customer's billing account.")]


def _same_currency(*amounts: Money) -> None:
    if len({amount.currency for amount in amounts}) > 1:
        raise ValueError("amounts compared in one event must share a currency")


class AccountOpened(EventData):
    """Emitted when billing opens an account for an approved customer."""

    event_type: ClassVar[str] = "billing.account.opened"

    account_id: AccountId
    customer_id: CustomerId
    currency: CurrencyCode
    prepayment_required: bool
    exposure_limit: Money | None = Field(
        default=None,
        description="Most the customer may owe (unpaid invoices plus unbilled usage); "
        "null when unlimited.",
    )
    opened_at: AwareDatetime

    @model_validator(mode="after")
    def _limit_in_account_currency(self) -> Self:
        if self.exposure_limit is not None and self.exposure_limit.currency != self.currency:
            raise ValueError("exposure_limit must be in the account's currency")
        return self


class AccountCleared(EventData):
    """Emitted when an account's instrument (and any required prepayment) is verified and the customer may order."""

    event_type: ClassVar[str] = "billing.account.cleared"

    account_id: AccountId
    customer_id: CustomerId
    instrument_type: InstrumentType
    prepayment_received: Money | None = Field(
        default=None, description="Prepayment collected, when the risk tier required one."
    )
    cleared_at: AwareDatetime


class InstrumentRejected(EventData):
    """Emitted when a customer's payment instrument is refused."""

    event_type: ClassVar[str] = "billing.instrument.rejected"

    account_id: AccountId
    customer_id: CustomerId
    instrument_type: InstrumentType
    reason: InstrumentRejection
    detail: str | None = Field(
        default=None, max_length=500, description="Processor message; never card data."
    )
    rejected_at: AwareDatetime


class InvoiceIssued(EventData):
    """Emitted when an invoice is issued to a customer."""

    event_type: ClassVar[str] = "billing.invoice.issued"

    invoice_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    number: str = Field(min_length=1, max_length=64, description="Invoice number as printed.")
    total: Money
    issued_on: dt.date
    due_on: dt.date
    period_start: dt.date | None = Field(default=None, description="First day billed, if any.")
    period_end: dt.date | None = Field(default=None, description="Last day billed, inclusive.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.due_on < self.issued_on:
            raise ValueError("due_on precedes issued_on")
        if (
            self.period_start is not None
            and self.period_end is not None
            and self.period_end < self.period_start
        ):
            raise ValueError("period_end precedes period_start")
        return self


class PaymentReported(EventData):
    """Emitted when a customer reports a payment that has not posted yet; dunning pauses meanwhile."""

    event_type: ClassVar[str] = "billing.payment.reported"

    payment_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    invoice_ids: tuple[uuid.UUID, ...] = Field(
        default=(), description="Invoices the payer says it covers."
    )
    amount: Money
    method: InstrumentType
    reference: str | None = Field(default=None, max_length=140, description="Remittance reference.")
    reported_at: AwareDatetime
    expected_by: dt.date = Field(
        description="Last day the payment may post (reported + 5 business days); "
        "dunning resumes after it."
    )


class PaymentPosted(EventData):
    """Emitted when a payment is received and applied to the account."""

    event_type: ClassVar[str] = "billing.payment.posted"

    payment_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    invoice_ids: tuple[uuid.UUID, ...] = Field(
        default=(), description="Invoices the payment was applied to."
    )
    amount: Money
    method: InstrumentType
    posted_at: AwareDatetime


class PaymentReversed(EventData):
    """Emitted when a posted payment is reversed by the bank or charged back."""

    event_type: ClassVar[str] = "billing.payment.reversed"

    payment_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    amount: Money
    reason: ReversalReason
    detail: str | None = Field(default=None, max_length=500)
    reversed_at: AwareDatetime


class DunningStepExecuted(EventData):
    """Emitted when a dunning policy step has run for an account with overdue invoices."""

    event_type: ClassVar[str] = "billing.dunning.step_executed"

    account_id: AccountId
    customer_id: CustomerId
    step: DunningStep
    invoice_ids: tuple[uuid.UUID, ...] = Field(
        min_length=1, description="The overdue invoices the step was about."
    )
    amount_overdue: Money
    days_overdue: int = Field(ge=1, description="Days past due of the oldest invoice.")
    executed_at: AwareDatetime


class CustomerDelinquent(EventData):
    """Emitted when a customer becomes delinquent, and again as the overdue amount or age changes."""

    event_type: ClassVar[str] = "billing.customer.delinquent"

    customer_id: CustomerId
    account_id: AccountId
    amount_overdue: Money
    days_overdue: int = Field(ge=1, description="Days past due of the oldest unpaid invoice.")
    oldest_invoice_id: uuid.UUID
    since: dt.date = Field(description="Due date of the oldest unpaid invoice.")


class CustomerInGoodStanding(EventData):
    """Emitted when a delinquent customer has nothing overdue any more."""

    event_type: ClassVar[str] = "billing.customer.in_good_standing"

    customer_id: CustomerId
    account_id: AccountId
    last_payment_id: uuid.UUID | None = Field(
        default=None, description="The payment that settled the overdue balance, if one did."
    )
    restored_at: AwareDatetime


class ExposureLimitExceeded(EventData):
    """Emitted when a customer's exposure (unpaid invoices plus unbilled usage) passes its limit."""

    event_type: ClassVar[str] = "billing.exposure.limit_exceeded"

    customer_id: CustomerId
    account_id: AccountId
    exposure: Money = Field(description="Unpaid invoices plus unbilled usage, now.")
    limit: Money
    detected_at: AwareDatetime

    @model_validator(mode="after")
    def _comparable(self) -> Self:
        _same_currency(self.exposure, self.limit)
        return self


class InvoiceSettled(EventData):
    """Emitted when an invoice leaves the open states: paid, voided or written off as uncollectible."""

    event_type: ClassVar[str] = "billing.invoice.settled"

    invoice_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    status: InvoiceOutcome
    total: Money
    paid: Money = Field(description="Payments allocated to the invoice.")
    credited: Money = Field(description="Credit notes against the invoice.")
    settled_at: AwareDatetime


class InvoiceReopened(EventData):
    """Emitted when a paid invoice owes money again because a payment behind it was reversed."""

    event_type: ClassVar[str] = "billing.invoice.reopened"

    invoice_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    balance: Money = Field(description="What the invoice owes now.")
    payment_id: uuid.UUID = Field(description="The reversed payment.")
    reopened_at: AwareDatetime


class CreditNoteIssued(EventData):
    """Emitted when a credit note reduces what an invoice owes."""

    event_type: ClassVar[str] = "billing.credit_note.issued"

    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: AccountId
    customer_id: CustomerId
    amount: Money
    reason: str = Field(min_length=1, max_length=500)
    issued_at: AwareDatetime
