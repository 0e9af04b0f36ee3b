"""Events delivered through NATS into the enforcement-events consumers (the real path)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.billing import (
    AccountCleared,
    CustomerDelinquent,
    InstrumentType,
)
from partnerguard.common.events.types.common import Money
from partnerguard.common.events.types.monitoring import (
    NotificationReceived,
    VendorNotificationKind,
    ViolationKind,
)
from partnerguard.common.events.types.onboarding import CustomerApproved, Decider, RiskTier
from partnerguard.common.runtime import Consumer
from partnerguard.enforcement.models import Customer, Hold
from partnerguard.enforcement.policies.handlers import event_consumers
from partnerguard.enforcement.settings import EnforcementSettings
from tests.support.events import deliver, outbox_events

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def consumer_for(stream: str, settings: EnforcementSettings) -> Consumer:
    (consumer,) = [c for c in event_consumers(settings) if c.spec.stream == stream]
    return consumer


async def holds(db: Database, partner_id: uuid.UUID) -> list[Hold]:
    async with db.tenant_session(partner_id) as session:
        return list((await session.execute(select(Hold))).scalars().all())


def test_one_durable_consumer_per_stream(en_settings: EnforcementSettings) -> None:
    consumers = event_consumers(en_settings)
    assert sorted(c.spec.stream for c in consumers) == ["BILLING", "MONITORING", "ONBOARDING"]
    assert {c.spec.durable for c in consumers} == {"enforcement-events"}
    monitoring = consumer_for("MONITORING", en_settings)
    assert monitoring.spec.subjects == sorted(monitoring.spec.subjects)
    assert all(s.startswith("monitoring.") for s in monitoring.spec.subjects)


async def test_delinquency_delivered_places_nonpayment_hold_once_despite_redelivery(
    bus: EventBus, enforcement_db: Database, partner_id: uuid.UUID, en_settings: EnforcementSettings
) -> None:
    customer = uuid.uuid4()
    event = CustomerDelinquent(
        customer_id=customer,
        account_id=uuid.uuid4(),
        amount_overdue=Money(amount=12_345, currency="EUR"),
        days_overdue=40,
        oldest_invoice_id=uuid.uuid4(),
        since=date(2026, 10, 15),
    )
    consumer = consumer_for("BILLING", en_settings)
    event_id = uuid.uuid4()
    for _ in range(2):
        await deliver(
            bus,
            enforcement_db,
            consumer,
            event,
            partner_id=partner_id,
            customer_id=customer,
            event_id=event_id,
        )
    (hold,) = await holds(enforcement_db, partner_id)
    assert (hold.reason, hold.status, hold.source_event_id) == ("nonpayment", "active", event_id)
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")) == 1


async def test_acceptable_use_notice_delivered_suspends_at_once(
    bus: EventBus, enforcement_db: Database, partner_id: uuid.UUID, en_settings: EnforcementSettings
) -> None:
    customer = uuid.uuid4()
    event = NotificationReceived(
        notification_id=uuid.uuid4(),
        vendor_reference="MS-AUP-1",
        kind=VendorNotificationKind.ACCEPTABLE_USE_VIOLATION,
        violation=ViolationKind.SPAM,
        customer_id=customer,
        vendor_tenant_id=uuid.uuid4(),
        summary="outbound spam",
        received_at=NOW,
    )
    await deliver(
        bus,
        enforcement_db,
        consumer_for("MONITORING", en_settings),
        event,
        partner_id=partner_id,
        customer_id=customer,
    )
    (hold,) = await holds(enforcement_db, partner_id)
    assert (hold.reason, hold.customer_id, hold.placed_by) == (
        "misuse",
        customer,
        "policy:acceptable-use-violation",
    )


async def test_approval_and_cleared_account_feed_the_registry(
    bus: EventBus, enforcement_db: Database, partner_id: uuid.UUID, en_settings: EnforcementSettings
) -> None:
    customer, tenant = uuid.uuid4(), uuid.uuid4()
    approved = CustomerApproved(
        customer_id=customer,
        application_id=uuid.uuid4(),
        risk_tier=RiskTier.HIGH,
        prepayment_required=True,
        vendor_tenant_id=tenant,
        country="DE",
        decided_by=Decider.AUTOMATIC,
        approved_at=NOW,
    )
    cleared = AccountCleared(
        account_id=uuid.uuid4(),
        customer_id=customer,
        instrument_type=InstrumentType.BANK_TRANSFER,
        cleared_at=NOW,
    )
    await deliver(
        bus,
        enforcement_db,
        consumer_for("ONBOARDING", en_settings),
        approved,
        partner_id=partner_id,
        customer_id=customer,
    )
    await deliver(
        bus,
        enforcement_db,
        consumer_for("BILLING", en_settings),
        cleared,
        partner_id=partner_id,
        customer_id=customer,
    )
    async with enforcement_db.tenant_session(partner_id) as session:
        row = (await session.execute(select(Customer))).scalar_one()
    assert (row.customer_id, row.vendor_tenant_id, row.risk_tier) == (customer, tenant, "high")
    assert row.prepayment_cleared is True
    assert row.budget_set is False
