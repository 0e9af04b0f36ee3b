"""Builders of monitoring usage data straight in the database, for tests that need weeks of
history faster than ingestion would give it. They keep the aggregates as ingestion does: an
hour's spend also counts in the customer's day, whose revision moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from partnerguard.common.db.engine import Database

_HOURLY = """
INSERT INTO usage_hourly (partner_id, customer_id, hour, subscription_id, meter_category,
                          currency, cost, heavy_cost, record_count)
VALUES (:p, :c, :hour, :s, :m, :cur, :cost, :heavy, :n)
ON CONFLICT (partner_id, customer_id, hour, subscription_id, meter_category) DO UPDATE
SET cost = usage_hourly.cost + excluded.cost, heavy_cost = usage_hourly.heavy_cost + excluded.heavy_cost,
    record_count = usage_hourly.record_count + excluded.record_count
"""
_CUSTOMER_DAY = """
INSERT INTO customer_days (partner_id, customer_id, day, currency, cost, heavy_cost,
                           record_count, changed_at, revision, evaluated_revision)
VALUES (:p, :c, :day, :cur, :cost, :heavy, :n, clock_timestamp(), 1, :evaluated)
ON CONFLICT (partner_id, customer_id, day) DO UPDATE
SET cost = customer_days.cost + excluded.cost,
    heavy_cost = customer_days.heavy_cost + excluded.heavy_cost,
    record_count = customer_days.record_count + excluded.record_count,
    changed_at = GREATEST(clock_timestamp(), customer_days.changed_at + interval '1 microsecond'),
    revision = customer_days.revision + 1,
    evaluated_revision = CASE WHEN :evaluated > 0 THEN customer_days.revision + 1
                              ELSE customer_days.evaluated_revision END
"""
_FOOTPRINT = """
INSERT INTO footprints (partner_id, customer_id, kind, value, first_seen_at, reported)
VALUES (:p, :c, :kind, :value, :at, :reported)
ON CONFLICT DO NOTHING
"""
_CUSTOMER = """
INSERT INTO customers (id, partner_id, customer_id, risk_tier, approved_at, currency, first_usage_at)
VALUES (:id, :p, :c, :tier, :approved, :cur, :first)
ON CONFLICT (partner_id, customer_id) DO UPDATE
SET risk_tier = COALESCE(excluded.risk_tier, customers.risk_tier),
    approved_at = COALESCE(excluded.approved_at, customers.approved_at),
    currency = COALESCE(customers.currency, excluded.currency),
    first_usage_at = LEAST(customers.first_usage_at, excluded.first_usage_at)
"""


async def add_customer(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    risk_tier: str | None = None,
    approved_at: datetime | None = None,
    currency: str | None = "EUR",
    first_usage_at: datetime | None = None,
) -> None:
    async with db.sweep_session() as session:
        await session.execute(
            text(_CUSTOMER),
            {
                "id": uuid.uuid4(),
                "p": partner_id,
                "c": customer_id,
                "tier": risk_tier,
                "approved": approved_at,
                "cur": currency,
                "first": first_usage_at,
            },
        )


async def add_hourly_spend(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    spend: Iterable[tuple[datetime, Decimal | str]],
    *,
    heavy: bool = False,
    subscription_id: uuid.UUID | None = None,
    meter_category: str = "Virtual Machines",
    currency: str = "EUR",
    evaluated: bool = False,
) -> None:
    """Add spend per hour (each ``(hour, cost)`` one record). ``evaluated=True`` marks the
    days as already evaluated (history), so only later changes reach the evaluation job."""
    subscription = subscription_id or uuid.UUID(int=customer_id.int ^ 1)
    rows = []
    for at, amount in spend:
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        cost = Decimal(amount)
        rows.append(
            {
                "p": partner_id,
                "c": customer_id,
                "hour": hour,
                "day": hour.date(),
                "s": subscription,
                "m": meter_category,
                "cur": currency,
                "cost": cost,
                "heavy": cost if heavy else Decimal(0),
                "n": 1,
                "evaluated": 1 if evaluated else 0,
            }
        )
    if not rows:
        return
    async with db.sweep_session() as session:
        # Each statement once over every row: weeks of history in one round trip each.
        await session.execute(text(_HOURLY), rows)
        await session.execute(text(_CUSTOMER_DAY), rows)


async def add_footprint(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    kind: str,
    value: str,
    at: datetime,
    *,
    reported: bool = True,
) -> None:
    async with db.sweep_session() as session:
        await session.execute(
            text(_FOOTPRINT),
            {
                "p": partner_id,
                "c": customer_id,
                "kind": kind,
                "value": value,
                "at": at,
                "reported": reported,
            },
        )
