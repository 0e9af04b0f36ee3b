"""The onboarding service's tables. Every one belongs to a partner and sits behind row-level security."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import CIDR, INET, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from partnerguard.common.db import NAMING_CONVENTION, CreatedAtMixin, TenantMixin, TimestampMixin
from partnerguard.common.ids import new_id


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Columns the database fills (updated_at's onupdate, server defaults) come back with the
    # INSERT/UPDATE itself, so reading them after a flush never needs a lazy load.
    __mapper_args__ = {"eager_defaults": True}


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    PENDING_VERIFICATION = "pending_verification"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class Application(TenantMixin, TimestampMixin, Base):
    """A customer's onboarding application: what was submitted, its latest assessment, its state.

    The API names it by ``customer_id`` (the customer it vets); ``id`` is the application id
    carried in events.
    """

    __tablename__ = "applications"

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), default=new_id)
    status: Mapped[str] = mapped_column(Text)

    company_name: Mapped[str] = mapped_column(Text)
    company_domain: Mapped[str | None] = mapped_column(Text)
    company_country: Mapped[str] = mapped_column(Text)
    company_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    registration_number: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(Text)
    contact_email: Mapped[str] = mapped_column(Text)
    email_domain: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str] = mapped_column(Text)
    vendor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    instrument_type: Mapped[str | None] = mapped_column(Text)
    card_bin: Mapped[str | None] = mapped_column(Text)
    card_country: Mapped[str | None] = mapped_column(Text)
    signup_ip: Mapped[IPv4Address | IPv6Address | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(Text)
    form_fill_seconds: Mapped[float | None] = mapped_column(Float)
    ip_country: Mapped[str | None] = mapped_column(Text)

    # The latest assessment, and the facts it was made from (replayed under proposed policies).
    score: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text)
    hard_reject: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_tier: Mapped[str | None] = mapped_column(Text)
    prepayment_required: Mapped[bool | None] = mapped_column(Boolean)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    mfa_enforced: Mapped[bool | None] = mapped_column(Boolean)
    phone_contact_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    collections_policy_version: Mapped[str | None] = mapped_column(Text)

    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Overriding a hard reject takes two reviewers: the first one's approval waits here.
    override_requested_by: Mapped[str | None] = mapped_column(Text)
    override_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("partner_id", "customer_id"),
        Index("ix_applications_partner_status", "partner_id", "status", "id"),
        # Velocity: applications sharing a key within a recent window.
        Index("ix_applications_velocity_ip", "partner_id", "signup_ip", "created_at"),
        Index("ix_applications_velocity_device", "partner_id", "device_id", "created_at"),
        Index("ix_applications_velocity_domain", "partner_id", "email_domain", "created_at"),
        Index("ix_applications_velocity_phone", "partner_id", "contact_phone", "created_at"),
        Index("ix_applications_velocity_bin", "partner_id", "card_bin", "created_at"),
    )


class ApplicationEvent(TenantMixin, Base):
    """One step in an application's life: who did what, when and why (the audit trail)."""

    __tablename__ = "application_events"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("applications.id"), index=True
    )
    action: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Verification(TenantMixin, CreatedAtMixin, Base):
    """A one-time code sent by SMS or e-mail; only its hash is kept."""

    __tablename__ = "verifications"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("applications.id"), index=True
    )
    channel: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    sends: Mapped[int] = mapped_column(Integer, default=1)
    last_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Check(TenantMixin, CreatedAtMixin, Base):
    """The result of an outside check (identity, credit report, sanctions screening), or a
    staff attestation (MFA enforced, personal phone contact), with the raw answer for audit."""

    __tablename__ = "checks"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("applications.id"), index=True
    )
    kind: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    requested_by: Mapped[str] = mapped_column(Text)


class RiskPolicyVersion(TenantMixin, CreatedAtMixin, Base):
    """One saved version of a partner's risk policy; the highest version is in force."""

    __tablename__ = "risk_policies"

    version: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("partner_id", "version"),)


class ListEntry(TenantMixin, CreatedAtMixin, Base):
    """An allow- or block-list entry: an email, domain, IP or range, device, BIN, phone or tenant."""

    __tablename__ = "list_entries"

    list: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    # For kind "ip": the address or range, so a lookup is one ``>>=`` on an indexed column.
    network: Mapped[IPv4Network | IPv6Network | None] = mapped_column(CIDR)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("partner_id", "list", "kind", "value"),
        Index("ix_list_entries_lookup", "partner_id", "kind", "value"),
        # Address-in-range lookups (``network >>= ip``) for partners with long IP lists.
        Index(
            "ix_list_entries_network",
            "network",
            postgresql_using="gist",
            postgresql_ops={"network": "inet_ops"},
            postgresql_where="kind = 'ip'",
        ),
    )


class CollectionsPolicy(TenantMixin, Base):
    """A published version of the partner's collections policy: the text and its terms."""

    __tablename__ = "collections_policies"

    version: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    suspension_day: Mapped[int] = mapped_column(Integer)
    published_by: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    __table_args__ = (UniqueConstraint("partner_id", "version"),)


class CollectionsAcceptance(TenantMixin, Base):
    """A customer's acceptance of one collections policy version: evidence for dunning."""

    __tablename__ = "collections_acceptances"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("applications.id"), index=True
    )
    policy_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("collections_policies.id")
    )
    policy_version: Mapped[str] = mapped_column(Text)
    accepted_by: Mapped[str] = mapped_column(Text)
    ip_address: Mapped[IPv4Address | IPv6Address] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(Text)
