"""The registry's functions, as the event consumers call them: upserts in any order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from partnerguard.common.db.engine import Database
from partnerguard.common.errors import Conflict
from partnerguard.enforcement.models import Customer, Subscription
from partnerguard.enforcement.registry.service import (
    record_customer,
    record_subscription,
    set_controls,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def test_record_customer_creates_then_updates_one_row(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, tenant = uuid.uuid4(), uuid.uuid4()
    async with enforcement_db.tenant_session(partner_id) as session:
        created = await record_customer(
            session, partner_id, customer_id, vendor_tenant_id=tenant, risk_tier="low", now=NOW
        )
        assert (created.vendor_tenant_id, created.risk_tier) == (tenant, "low")
        assert not created.mfa_attested
        assert not created.budget_set
        updated = await record_customer(session, partner_id, customer_id, risk_tier="high", now=NOW)
        assert updated.id == created.id
        assert (updated.vendor_tenant_id, updated.risk_tier) == (tenant, "high")
        count = await session.scalar(select(func.count()).select_from(Customer))
        assert count == 1


async def test_the_later_approval_wins_whatever_the_order_of_arrival(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    earlier, later = NOW - timedelta(days=2), NOW
    async with enforcement_db.tenant_session(partner_id) as session:
        await record_customer(
            session, partner_id, customer_id, risk_tier="medium", approved_at=later, now=NOW
        )
        stale = await record_customer(
            session,
            partner_id,
            customer_id,
            vendor_tenant_id=uuid.uuid4(),
            risk_tier="high",
            approved_at=earlier,
            now=NOW,
        )
        assert (stale.risk_tier, stale.approved_at, stale.vendor_tenant_id) == (
            "medium",
            later,
            None,
        )
        newer = await record_customer(
            session,
            partner_id,
            customer_id,
            risk_tier="low",
            approved_at=later + timedelta(hours=1),
            now=NOW,
        )
        assert newer.risk_tier == "low"


async def test_set_controls_changes_only_the_given_flags(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    async with enforcement_db.tenant_session(partner_id) as session:
        # Controls may arrive before the customer: the row is created.
        first = await set_controls(session, partner_id, customer_id, mfa_attested=True, now=NOW)
        assert (first.mfa_attested, first.budget_set, first.prepayment_cleared) == (
            True,
            False,
            False,
        )
        second = await set_controls(
            session, partner_id, customer_id, budget_set=True, prepayment_cleared=True, now=NOW
        )
        third = await set_controls(session, partner_id, customer_id, mfa_attested=False, now=NOW)
        assert second.id == third.id == first.id
        assert (third.mfa_attested, third.budget_set, third.prepayment_cleared) == (
            False,
            True,
            True,
        )


async def test_record_subscription_creates_the_customer_and_upserts(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, subscription_id = uuid.uuid4(), uuid.uuid4()
    async with enforcement_db.tenant_session(partner_id) as session:
        created = await record_subscription(
            session,
            partner_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            commerce="legacy",
            offer="O365 E3",
            now=NOW,
        )
        assert (created.status, created.desired_status, created.revision) == ("active", "active", 0)
        assert created.commerce == "legacy"
        created.status = "suspended"  # as the provider work confirms it
        await session.flush()
        again = await record_subscription(
            session,
            partner_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            commerce="new_commerce",
            now=NOW,
        )
        assert again.id == created.id
        assert (again.commerce, again.offer, again.status) == (
            "new_commerce",
            "O365 E3",
            "suspended",
        )
        customers = (await session.execute(select(Customer))).scalars().all()
        assert [c.customer_id for c in customers] == [customer_id]


async def test_record_subscription_keeps_the_vendor_status_given_for_a_new_row(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    async with enforcement_db.tenant_session(partner_id) as session:
        subscription = await record_subscription(
            session,
            partner_id,
            customer_id=uuid.uuid4(),
            subscription_id=uuid.uuid4(),
            commerce="new_commerce",
            status="suspended",
            now=NOW,
        )
        # Suspended at the vendor with no hold: the provider work will reinstate it.
        assert (subscription.status, subscription.desired_status) == ("suspended", "active")


async def test_a_subscription_cannot_move_to_another_customer(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    subscription_id = uuid.uuid4()
    async with enforcement_db.tenant_session(partner_id) as session:
        await record_subscription(
            session,
            partner_id,
            customer_id=uuid.uuid4(),
            subscription_id=subscription_id,
            commerce="new_commerce",
            now=NOW,
        )
    with pytest.raises(Conflict):
        async with enforcement_db.tenant_session(partner_id) as session:
            await record_subscription(
                session,
                partner_id,
                customer_id=uuid.uuid4(),
                subscription_id=subscription_id,
                commerce="new_commerce",
                now=NOW,
            )


async def test_the_same_vendor_subscription_id_is_separate_per_partner(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    subscription_id, other = uuid.uuid4(), uuid.uuid4()
    for partner in (partner_id, other):
        async with enforcement_db.tenant_session(partner) as session:
            await record_subscription(
                session,
                partner,
                customer_id=uuid.uuid4(),
                subscription_id=subscription_id,
                commerce="new_commerce",
                now=NOW,
            )
    async with enforcement_db.tenant_session(partner_id) as session:
        rows = (await session.execute(select(Subscription))).scalars().all()
        assert [row.partner_id for row in rows] == [partner_id]
