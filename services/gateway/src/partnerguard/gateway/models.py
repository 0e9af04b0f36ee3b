"""The gateway service's tables.

Partners and signing keys are platform-wide (no row-level security: only the platform
operator's routes and the token endpoint reach them). Clients, revoked tokens and webhooks
belong to one partner each and sit behind row-level security like every tenant table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, MetaData, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from partnerguard.common.db import NAMING_CONVENTION, TenantMixin, TimestampMixin
from partnerguard.common.ids import new_id


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Partner(TimestampMixin, Base):
    """A reseller using the platform (a tenant), or the platform operator itself."""

    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # "partner" (a reseller) or "operator" (runs the platform; its clients are platform admins)
    kind: Mapped[str] = mapped_column(Text, default="partner")
    status: Mapped[str] = mapped_column(Text, default="active")


class Client(TenantMixin, TimestampMixin, Base):
    """An OAuth 2.0 client of a partner: one role, a secret kept only as a slow hash."""

    __tablename__ = "clients"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id"), index=True
    )
    client_id: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[str] = mapped_column(Text)
    # After a rotation the previous secret works until it expires, so deployments can roll.
    previous_secret_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    status: Mapped[str] = mapped_column(Text, default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SigningKey(Base):
    """An ES256 key pair. Published from ``created_at``, signs in [activates_at, retires_at),
    stays published until ``expires_at`` so the tokens it signed verify to their end."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(Text, primary_key=True)
    algorithm: Mapped[str] = mapped_column(Text, default="ES256")
    # The private key as a JWK, sealed with the gateway's secrets key.
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activates_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RevokedToken(Base):
    """An access token refused before its expiry (RFC 7009). Kept until it would have expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(Text, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    client_id: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC), index=True
    )


# --- webhooks ---


class Webhook(TenantMixin, TimestampMixin, Base):
    """A partner's endpoint that receives that partner's events of the types it subscribed to."""

    __tablename__ = "webhooks"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Exact types (``billing.invoice.issued``), domain wildcards (``billing.*``) or ``*``; a JSON
    # array so one indexed ``?|`` test matches an event against all three forms.
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    # "enabled" or "disabled"; a disabled webhook gets no new deliveries and its pending ones wait.
    status: Mapped[str] = mapped_column(Text, default="enabled")
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The signing secret (``whsec_...``), sealed with the secrets key. After a rotation the
    # previous one signs beside it until it expires, so receivers can switch without a gap.
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    previous_sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # Failed attempts since the last success, and when that run of failures began: an endpoint
    # failing for long enough is disabled.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookDelivery(TenantMixin, Base):
    """One event owed to one webhook: sent until it succeeds or its retries run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event and webhook, whatever the broker redelivers.
        UniqueConstraint("webhook_id", "event_id"),
        # The deliveries list of one webhook, newest first.
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        # What the delivery job claims: only pending rows, by when they are due.
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(Text)
    # The CloudEvent JSON exactly as signed and sent, identical on every attempt.
    body: Mapped[str] = mapped_column(Text)
    # pending → succeeded | failed; paused while the webhook is disabled.
    status: Mapped[str] = mapped_column(Text, default="pending")
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookAttempt(TenantMixin, Base):
    """One HTTP attempt of a delivery, kept so the partner can see what its endpoint answered."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int]
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int]
