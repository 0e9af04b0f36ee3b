"""The billing service's tables. Every one belongs to a partner and sits behind row-level security.

Money is stored as ``BigInteger`` minor units beside the ISO 4217 code of the account; an
account has one currency and everything billed to it is in that currency.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from partnerguard.common.db import NAMING_CONVENTION, CreatedAtMixin, TenantMixin, TimestampMixin


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Columns the database fills come back with the INSERT/UPDATE itself, never by a lazy load.
    __mapper_args__ = {"eager_defaults": True}


# --- accounts ---------------------------------------------------------------------------------


class Account(TenantMixin, TimestampMixin, Base):
    """A customer's billing account: its terms, its prepayment gate and its standing."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("partner_id", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    currency: Mapped[str] = mapped_column(Text)
    # The country whose business-day calendar times payment posting.
    country: Mapped[str] = mapped_column(Text)
    risk_tier: Mapped[str | None] = mapped_column(Text)
    # Most the customer may owe (receivables plus unbilled usage, less credit); None = unlimited.
    credit_limit: Mapped[int | None] = mapped_column(BigInteger)
    prepayment_required: Mapped[bool] = mapped_column(Boolean)
    prepayment_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    billing_email: Mapped[str | None] = mapped_column(Text)
    vendor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # "event" (onboarding approved the customer) or "api" (the partner opened it).
    opened_by: Mapped[str] = mapped_column(Text)
    # Set once: the account holds an accepted instrument and any required prepayment.
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Due date of the oldest invoice that reached the suspension step; None when in good standing.
    delinquent_since: Mapped[date | None] = mapped_column(Date)
    # Whether the last exposure check found the limit crossed (the event fires on the crossing).
    over_limit: Mapped[bool] = mapped_column(Boolean, default=False)


# --- payment instruments ----------------------------------------------------------------------


class InstrumentClass(StrEnum):
    """What an instrument is, after BIN classification; the instrument policy refuses classes."""

    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"
    PREPAID_CARD = "prepaid_card"
    STORED_VALUE = "stored_value"
    BANK_DEBIT = "bank_debit"
    BANK_TRANSFER = "bank_transfer"
    INVOICE_TERMS = "invoice_terms"


class Instrument(TenantMixin, CreatedAtMixin, Base):
    """A payment instrument registered for an account; never a full card number."""

    __tablename__ = "instruments"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    # InstrumentClass, as classified (a card's BIN range overrides what the caller declared).
    instrument_class: Mapped[str] = mapped_column(Text)
    declared_class: Mapped[str] = mapped_column(Text)
    card_bin: Mapped[str | None] = mapped_column(Text)
    # Last four of the card number or of the bank account (IBAN); never more.
    last4: Mapped[str | None] = mapped_column(Text)
    card_brand: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    holder_name: Mapped[str | None] = mapped_column(Text)
    # "accepted", "rejected" or "removed".
    status: Mapped[str] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    rejection_detail: Mapped[str | None] = mapped_column(Text)
    # Which BIN range classified it ("partner:<prefix>" or "default:<prefix>"), for the record.
    classified_by: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BinRange(TenantMixin, CreatedAtMixin, Base):
    """A partner's own BIN classification, over the built-in table; the longest prefix wins."""

    __tablename__ = "bin_ranges"
    __table_args__ = (UniqueConstraint("partner_id", "prefix"),)

    prefix: Mapped[str] = mapped_column(Text)
    # "credit", "debit", "prepaid".
    funding: Mapped[str] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class InstrumentPolicy(TenantMixin, TimestampMixin, Base):
    """Which instrument classes the partner refuses, and per-customer exceptions (one row per partner)."""

    __tablename__ = "instrument_policies"
    __table_args__ = (UniqueConstraint("partner_id"),)

    refused: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # [{"customer_id", "allow": [class, ...], "reason", "expires_on"}]
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(Text)


# --- invoices ---------------------------------------------------------------------------------


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


OPEN_STATUSES = (InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value)


class Invoice(TenantMixin, TimestampMixin, Base):
    """An issued invoice. ``balance`` = total - paid - credited; a stored column the database keeps."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("partner_id", "number"),
        CheckConstraint("total > 0", name="total_positive"),
        CheckConstraint("paid >= 0 AND credited >= 0", name="amounts_not_negative"),
        CheckConstraint("paid + credited <= total", name="not_over_settled"),
        # The dunning sweep and aging read open invoices by due date.
        Index(
            "ix_invoices_open_due",
            "due_on",
            "id",
            postgresql_where="status IN ('open', 'partially_paid')",
        ),
        # A partner's own run (POST /dunning/runs) walks only that partner's open invoices.
        Index(
            "ix_invoices_partner_open_due",
            "partner_id",
            "due_on",
            "id",
            postgresql_where="status IN ('open', 'partially_paid')",
        ),
        Index("ix_invoices_account_due", "account_id", "due_on"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    terms_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    memo: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    # A disputed invoice is not dunned until the dispute is resolved.
    disputed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)

    @property
    def balance(self) -> int:
        return self.total - self.paid - self.credited


class InvoiceLine(TenantMixin, Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class CreditNote(TenantMixin, CreatedAtMixin, Base):
    __tablename__ = "credit_notes"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)


# --- payments ---------------------------------------------------------------------------------


class PaymentStatus(StrEnum):
    REPORTED = "reported"
    POSTED = "posted"
    REVERSED = "reversed"


class Payment(TenantMixin, TimestampMixin, Base):
    """Money the customer sent. Posted payments are allocated oldest invoice first; what is not
    allocated is the account's credit balance (prepayment and overpayment alike)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("allocated >= 0 AND allocated <= amount", name="allocated_in_range"),
        Index("ix_payments_account_status", "account_id", "status"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    # events.types.billing.InstrumentType
    method: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    # Invoices the payer says it covers (allocation is still oldest-first).
    invoice_hints: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    status: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Last business day a reported payment may take to post; dunning of the account pauses until then.
    expected_by: Mapped[date | None] = mapped_column(Date)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    reversal_detail: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)


class Allocation(TenantMixin, CreatedAtMixin, Base):
    """Part of a posted payment applied to an invoice; a reversal ends it (``reversed_at``)."""

    __tablename__ = "allocations"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- usage (from monitoring) --------------------------------------------------------------------


class DailyUsage(TenantMixin, Base):
    """A customer's rated spend for one day, from ``monitoring.spend.daily`` (the latest wins).

    Keyed by customer, not account: spend may arrive before the account is opened.
    """

    __tablename__ = "daily_usage"
    __table_args__ = (UniqueConstraint("partner_id", "customer_id", "day"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    day: Mapped[date] = mapped_column(Date)
    # Minor units of ``currency``, rounded half-up from monitoring's decimal cost.
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- dunning ----------------------------------------------------------------------------------


class DunningPolicyVersion(TenantMixin, CreatedAtMixin, Base):
    """One saved version of a partner's dunning policy; the highest version is in force."""

    __tablename__ = "dunning_policies"
    __table_args__ = (UniqueConstraint("partner_id", "version"),)

    version: Mapped[int] = mapped_column(Integer)
    # [{"step": DunningStep, "day_offset": int}] in step order.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Invoices owing less than this (minor units of their currency) are not dunned.
    minimum_amount: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(Text)


class DunningRun(TenantMixin, Base):
    """One sweep: scheduled (every partner) or requested (one partner, maybe for a past date)."""

    __tablename__ = "dunning_runs"

    as_of: Mapped[date] = mapped_column(Date)
    # "schedule" or "api".
    trigger: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    steps_executed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class DunningAction(TenantMixin, CreatedAtMixin, Base):
    """A dunning step done for an invoice. Unique per (invoice, step): whatever runs, and however
    many replicas run it, a step happens once."""

    __tablename__ = "dunning_actions"
    __table_args__ = (UniqueConstraint("invoice_id", "step"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dunning_runs.id"), index=True)
    step: Mapped[str] = mapped_column(Text)
    as_of: Mapped[date] = mapped_column(Date)
    days_overdue: Mapped[int] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(BigInteger)


class DunningNotice(TenantMixin, CreatedAtMixin, Base):
    """A dunning notice to send by e-mail: one per account and step of a run, delivered by a job
    apart from the sweep (a slow mail server never holds a sweep up; a failed send is retried)."""

    __tablename__ = "dunning_notices"
    __table_args__ = (
        Index("ix_dunning_notices_pending", "id", postgresql_where="status = 'pending'"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dunning_runs.id"))
    step: Mapped[str] = mapped_column(Text)
    invoice_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    amount_overdue: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    days_overdue: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str | None] = mapped_column(Text)
    # "pending", "sent", "failed" (gave up), "no_recipient".
    status: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A refused send waits until then (exponential backoff); None: send at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
