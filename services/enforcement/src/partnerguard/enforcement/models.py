"""The enforcement service's tables. Every one belongs to a partner and sits behind row-level security.

Holds say why a subscription must be suspended; a subscription's ``desired_status`` follows from
its active holds, and the provider operations make the vendor's side match it. The audit log is
append-only (a trigger refuses updates and deletes) and hash-chained per partner; entries are
recorded as pending with the action that caused them and chained shortly after.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from partnerguard.common.db import (
    NAMING_CONVENTION,
    CreatedAtMixin,
    TenantMixin,
    TimestampMixin,
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Columns the database fills come back with the INSERT/UPDATE itself, never by a lazy load.
    __mapper_args__ = {"eager_defaults": True}


# --- registry ---------------------------------------------------------------------------------


class Customer(TenantMixin, TimestampMixin, Base):
    """A customer as enforcement knows it: from onboarding, billing and monitoring events, or the API."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("partner_id", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    vendor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    risk_tier: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The access gate's controls, as the events (or the partner) last said.
    mfa_attested: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_set: Mapped[bool] = mapped_column(Boolean, default=False)
    prepayment_cleared: Mapped[bool] = mapped_column(Boolean, default=False)


class Subscription(TenantMixin, TimestampMixin, Base):
    """A customer's subscription at the vendor, and the status enforcement wants it in."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("partner_id", "subscription_id"),
        Index("ix_subscriptions_customer", "partner_id", "customer_id"),
        # The reconciler's work list: subscriptions whose vendor status is not what is wanted.
        Index(
            "ix_subscriptions_drift",
            "updated_at",
            postgresql_where="desired_status IS DISTINCT FROM status",
        ),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # "new_commerce" or "legacy": only new-commerce subscriptions qualify for the credit.
    commerce: Mapped[str] = mapped_column(Text)
    offer: Mapped[str | None] = mapped_column(Text)
    # The vendor's status as last confirmed ("active", "suspended", ...), and what holds want.
    status: Mapped[str] = mapped_column(Text)
    desired_status: Mapped[str] = mapped_column(Text)
    # The vendor resource's ETag as last read, for If-Match on the next change.
    etag: Mapped[str | None] = mapped_column(Text)
    # Bumped at every change of desired status: a provider operation acts on one revision.
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


# --- holds ------------------------------------------------------------------------------------


class Hold(TenantMixin, CreatedAtMixin, Base):
    """A reason to keep a customer's (or one subscription's) service suspended."""

    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_customer", "partner_id", "customer_id", "status"),
        # One active hold per target and reason: placing it again returns the one in force.
        Index(
            "ix_holds_one_active",
            "partner_id",
            "customer_id",
            "subscription_id",
            "reason",
            unique=True,
            postgresql_where="status = 'active'",
            postgresql_nulls_not_distinct=True,
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # None: the hold covers every subscription of the customer.
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # HoldReason.
    reason: Mapped[str] = mapped_column(Text)
    # "active" or "released".
    status: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    note: Mapped[str | None] = mapped_column(Text)
    released_by: Mapped[str | None] = mapped_column(Text)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_note: Mapped[str | None] = mapped_column(Text)


# --- provider operations ----------------------------------------------------------------------


class ProviderOperation(TenantMixin, CreatedAtMixin, Base):
    """One change of a subscription's status at the vendor, carried out until it is confirmed.

    ``request_id`` is sent as ``MS-RequestId`` on every attempt, so a retry of a change the
    vendor already made is recognised as the same request."""

    __tablename__ = "provider_operations"
    __table_args__ = (
        Index(
            "ix_provider_operations_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
        Index("ix_provider_operations_subscription", "partner_id", "subscription_id"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # ActionKind: suspend_subscription or reinstate_subscription.
    action: Mapped[str] = mapped_column(Text)
    # The subscription revision this operation brings about.
    revision: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # "pending", "succeeded", "failed" (gave up) or "superseded" (the wanted status changed).
    status: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- policies and approvals -------------------------------------------------------------------


class PolicyVersion(TenantMixin, CreatedAtMixin, Base):
    """A saved version of the partner's enforcement rules; the newest is in force."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("partner_id", "version"),)

    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)


class ReceivedEvent(Base):
    """An event enforcement acted on (or could have): what a proposed policy is replayed over."""

    __tablename__ = "received_events"
    __table_args__ = (Index("ix_received_events_time", "partner_id", "occurred_at"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_type: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingAction(TenantMixin, TimestampMixin, Base):
    """A policy's action that waits for approval (place or release a hold, open a case, notify)."""

    __tablename__ = "pending_actions"
    __table_args__ = (
        Index("ix_pending_actions_status", "partner_id", "status"),
        # One pending action per rule and triggering event, however often the event arrives.
        UniqueConstraint("partner_id", "rule", "source_event_id", "action"),
    )

    # "place_hold", "release_hold", "open_case", "notify".
    action: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # "pending", "approved" (and carried out), "rejected", "expired".
    status: Mapped[str] = mapped_column(Text)
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    # [{"by": ..., "at": ..., "note": ...}], in order.
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- cases and the credit request -------------------------------------------------------------


class Case(TenantMixin, TimestampMixin, Base):
    """An investigation opened from an alert or a notice, with its timeline and resolution."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_customer", "partner_id", "customer_id"),)

    kind: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    vendor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # "open" or "closed".
    status: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # For a compromise: the first usage date of the fraudulent activity, and the credit window.
    first_fraudulent_usage_on: Mapped[date | None] = mapped_column(Date)
    credit_deadline: Mapped[date | None] = mapped_column(Date)
    # Why the one-time credit cannot be requested, when it cannot ([] when it can).
    ineligible_reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # The reminders (days left) already emitted.
    reminders_sent: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    outcome: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(Text)


class CaseEntry(TenantMixin, CreatedAtMixin, Base):
    """One item of a case's timeline: evidence, a note, a decision."""

    __tablename__ = "case_entries"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditRequest(TenantMixin, CreatedAtMixin, Base):
    """The one-time compromise credit request, filed once per customer tenant."""

    __tablename__ = "credit_requests"
    __table_args__ = (UniqueConstraint("partner_id", "vendor_tenant_id"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    vendor_tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subscription_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    submitted_by: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    vendor_reference: Mapped[str | None] = mapped_column(Text)


# --- audit ------------------------------------------------------------------------------------


class AuditEntry(Base):
    """One audited action; ``hash`` covers the entry and the previous entry's hash."""

    __tablename__ = "audit_log"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(Text)


class PendingAuditEntry(Base):
    """An audited action, committed with the action and not chained yet. ``position`` is the
    order it was recorded in, which its partner's chain keeps."""

    __tablename__ = "audit_pending"
    __table_args__ = (Index(None, "partner_id", "position"),)

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditHead(Base):
    """Where each partner's chain ends, moved forward as entries are chained: entries removed
    from the end of the log leave it pointing past the last one, which ``verify`` reports."""

    __tablename__ = "audit_heads"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(Text)
