"""The monitoring service's tables. Every one belongs to a partner and sits behind row-level security.

Usage money is a decimal (``Numeric(20, 8)``): metered cost may carry up to 8 places, and a
customer's usage is in one currency, fixed by its first record. Totals of many records are
wider (``Numeric(38, 8)``): they must hold any sum of what a record may cost.

The usage tables are the hot path of ingestion, so they carry no surrogate id and no index
beyond their primary key: every extra index is paid on each of millions of rows.
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

from partnerguard.common.db import (
    NAMING_CONVENTION,
    CreatedAtMixin,
    TenantMixin,
    TimestampMixin,
)
from partnerguard.common.db.base import filled_by_database_clock

COST = Numeric(20, 8)
# A total of usage records. A record costs less than 10^12 (the 12 digits COST holds before the
# point, checked on reading) and a row counts fewer than 2^31 of them (its int4 record_count),
# so a row's total stays below 2.2 x 10^21 and a month of such days below 7 x 10^22: 23 digits
# of the 30 this holds. Sums of accepted records can then never overflow a total.
TOTAL = Numeric(38, 8)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Columns the database fills come back with the INSERT/UPDATE itself, never by a lazy load.
    __mapper_args__ = {"eager_defaults": True}


# --- customers --------------------------------------------------------------------------------


class Customer(TenantMixin, TimestampMixin, Base):
    """What monitoring knows of a customer: from onboarding's approval, its usage, its budget."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("partner_id", "customer_id"),
        Index(
            "ix_customers_tenant",
            "partner_id",
            "vendor_tenant_id",
            unique=True,
            postgresql_where="vendor_tenant_id IS NOT NULL",
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    vendor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # low / medium / high, from onboarding; None until the approval arrives.
    risk_tier: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The currency of the customer's first usage record; later records must match it.
    currency: Mapped[str | None] = mapped_column(Text)
    first_usage_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- usage ------------------------------------------------------------------------------------


class UsageRecord(Base):
    """One rated usage record as received; the primary key de-duplicates by the sender's id."""

    __tablename__ = "usage_records"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    record_id: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    meter: Mapped[str] = mapped_column(Text)
    meter_category: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(COST)
    unit: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(COST)
    currency: Mapped[str] = mapped_column(Text)
    usage_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    usage_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Whether the record is GPU or high-core compute (the crypto-mining detector's input).
    heavy_compute: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = filled_by_database_clock()


class UsageHourly(Base):
    """Spend per customer, subscription and meter category in each UTC hour (by usage start).

    Days of it are summed when read: a table of days per subscription and category would cost
    ingestion a second upsert per key, for a series only a filtered spend query asks for.
    """

    __tablename__ = "usage_hourly"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    meter_category: Mapped[str] = mapped_column(Text, primary_key=True)
    currency: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(TOTAL)
    # The part of ``cost`` spent on GPU or high-core compute.
    heavy_cost: Mapped[Decimal] = mapped_column(TOTAL)
    record_count: Mapped[int] = mapped_column(Integer)


class RetiredUsageDaily(Base):
    """Spend per customer, subscription and meter category per UTC day: no longer written or
    read (``UsageHourly`` says why). The table stays until a later release drops it, since
    migrations only add: the pods of the release before still write it while a rolling upgrade
    replaces them. A migration of the release after this one drops it."""

    __tablename__ = "usage_daily"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    meter_category: Mapped[str] = mapped_column(Text, primary_key=True)
    currency: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(TOTAL)
    heavy_cost: Mapped[Decimal] = mapped_column(TOTAL)
    record_count: Mapped[int] = mapped_column(Integer)


class CustomerDay(Base):
    """A customer's total spend on a UTC day, and the queue of days whose total changed.

    Ingestion bumps ``revision``; the evaluation job takes days whose ``evaluated_revision`` is
    behind it, publishes ``monitoring.spend.daily``, checks the budget and runs the detectors,
    then records the revision it saw. Many batches touching one day before the job comes
    round cost one evaluation, and a change while the job runs is evaluated next round.
    """

    __tablename__ = "customer_days"
    __table_args__ = (
        Index(
            "ix_customer_days_pending",
            "changed_at",
            postgresql_where="evaluated_revision < revision",
        ),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(TOTAL)
    heavy_cost: Mapped[Decimal] = mapped_column(TOTAL)
    record_count: Mapped[int] = mapped_column(Integer)
    # Strictly increasing per row (the spend.daily ``computed_at``: the latest wins downstream).
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(BigInteger)
    evaluated_revision: Mapped[int] = mapped_column(BigInteger, default=0)


class FootprintKind(StrEnum):
    RESOURCE_TYPE = "resource_type"
    REGION = "region"
    ACTIVITY_COUNTRY = "activity_country"


class Footprint(Base):
    """The first time a customer used a resource type or region, or acted from a country."""

    __tablename__ = "footprints"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    # When the usage or activity that first showed it happened, and the day it is counted on.
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = filled_by_database_clock()
    # Set once the first-seen detector has looked at it (alerted or not).
    reported: Mapped[bool] = mapped_column(Boolean, default=False)


class UsageRejection(TenantMixin, CreatedAtMixin, Base):
    """A record of a stream batch that was refused, with why: nothing sent is silently dropped.

    (Records refused over HTTP are answered in the response instead.)"""

    __tablename__ = "usage_rejections"
    # A redelivered message keeps each refusal once.
    __table_args__ = (UniqueConstraint("partner_id", "batch", "position"),)

    # The stream message's id (``Nats-Msg-Id``, else stream and sequence) and the record's place.
    batch: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


# --- budgets ----------------------------------------------------------------------------------


class Budget(TenantMixin, TimestampMixin, Base):
    """A customer's monthly spending budget and the thresholds that alert."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("partner_id", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[Decimal] = mapped_column(COST)
    currency: Mapped[str] = mapped_column(Text)
    # Percentages of ``amount``, ascending.
    thresholds: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class BudgetCrossing(Base):
    """A threshold reached in a month: at most once per budget, month and threshold."""

    __tablename__ = "budget_crossings"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    budget_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("budgets.id"), primary_key=True)
    month: Mapped[str] = mapped_column(Text, primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The month's spend: a total of records, however large.
    spent: Mapped[Decimal] = mapped_column(TOTAL)
    reached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- detection and alerts ---------------------------------------------------------------------


class DetectorConfig(Base):
    """A partner's detector and rule settings (one JSON document, validated on the way in)."""

    __tablename__ = "detector_configs"

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = filled_by_database_clock()


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(TenantMixin, TimestampMixin, Base):
    """Something a detector, a rule or the vendor flagged, with the numbers behind it."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The same finding (say, one customer's anomaly on one day) is one alert, however often
        # the evidence is re-evaluated.
        UniqueConstraint("partner_id", "dedup_key"),
        Index("ix_alerts_customer", "partner_id", "customer_id"),
    )

    kind: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    subscription_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dedup_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=AlertStatus.OPEN.value)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(Text)
    # confirmed / false_positive
    resolution: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


# --- activity logs ----------------------------------------------------------------------------


class ActivityEntry(Base):
    """One entry of a customer tenant's activity log; the sender's id de-duplicates it."""

    __tablename__ = "activity_entries"
    __table_args__ = (
        Index("ix_activity_entries_customer", "partner_id", "customer_id", "occurred_at"),
        Index("ix_activity_entries_actor", "partner_id", "customer_id", "actor", "occurred_at"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    entry_id: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    actor: Mapped[str] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text)
    # The role an operation granted or removed, when it is about one.
    role: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    # success / failure
    result: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = filled_by_database_clock()


# --- vendor notifications ---------------------------------------------------------------------


class Notification(TenantMixin, TimestampMixin, Base):
    """A notice from the vendor about a customer, and where its response clock stands."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("partner_id", "vendor_reference"),)

    vendor_reference: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    violation: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    vendor_tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subscription_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    summary: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # For an account compromise: the first day of the fraudulent usage, which starts the
    # 60-day window of the vendor's one-time credit.
    first_fraudulent_usage_on: Mapped[date | None] = mapped_column(Date)
    # NotificationStage: received, in_review, actioned, responded.
    status: Mapped[str] = mapped_column(Text, default="received")
    # When each next stage is due; the vendor's own deadline wins for the response.
    review_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    respond_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Stages whose deadline passed unmet and were announced overdue (once each).
    overdue_stages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    alert_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class NotificationTransition(TenantMixin, CreatedAtMixin, Base):
    """One step of a notification's clock: who moved it, when and why."""

    __tablename__ = "notification_transitions"

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
