"""The policy engine on a real database: each default policy's effect, duplicates, order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from partnerguard.common.db.engine import Database
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.billing import CustomerDelinquent, CustomerInGoodStanding
from partnerguard.common.events.types.common import Money
from partnerguard.common.events.types.monitoring import (
    AlertKind,
    AlertRaised,
    AlertResolution,
    AlertResolved,
    NotificationReceived,
    Severity,
    VendorNotificationKind,
    ViolationKind,
)
from partnerguard.enforcement.models import Case, Hold, PendingAction, ReceivedEvent
from partnerguard.enforcement.policies.engine import handle_event
from tests.support.enforcement import audit_log
from tests.support.events import outbox_events

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def notice(customer: uuid.UUID, kind: VendorNotificationKind) -> NotificationReceived:
    return NotificationReceived(
        notification_id=uuid.uuid4(),
        vendor_reference="MS-42",
        kind=kind,
        violation=ViolationKind.CRYPTO_MINING
        if kind is VendorNotificationKind.ACCEPTABLE_USE_VIOLATION
        else None,
        customer_id=customer,
        vendor_tenant_id=uuid.uuid4(),
        summary="the vendor's notice",
        received_at=NOW,
    )


def delinquent(customer: uuid.UUID) -> CustomerDelinquent:
    return CustomerDelinquent(
        customer_id=customer,
        account_id=uuid.uuid4(),
        amount_overdue=Money(amount=50_000, currency="EUR"),
        days_overdue=35,
        oldest_invoice_id=uuid.uuid4(),
        since=date(2026, 10, 20),
    )


def good_standing(customer: uuid.UUID) -> CustomerInGoodStanding:
    return CustomerInGoodStanding(customer_id=customer, account_id=uuid.uuid4(), restored_at=NOW)


def mining_confirmed(customer: uuid.UUID) -> AlertResolved:
    return AlertResolved(
        alert_id=uuid.uuid4(),
        kind=AlertKind.CRYPTO_MINING,
        customer_id=customer,
        resolution=AlertResolution.CONFIRMED,
        resolved_at=NOW,
    )


def mining_critical(customer: uuid.UUID, subscription: uuid.UUID) -> AlertRaised:
    return AlertRaised(
        alert_id=uuid.uuid4(),
        kind=AlertKind.CRYPTO_MINING,
        severity=Severity.CRITICAL,
        customer_id=customer,
        subscription_ids=(subscription,),
        summary="GPU burst on a new subscription",
        raised_at=NOW,
    )


async def handle(
    db: Database,
    partner_id: uuid.UUID,
    data: EventData,
    *,
    event_id: uuid.UUID | None = None,
) -> uuid.UUID:
    event_id = event_id or uuid.uuid4()
    async with db.tenant_session(partner_id) as session:
        await handle_event(
            session,
            partner_id,
            event_id,
            data.event_type,
            data.model_dump(mode="json"),
            getattr(data, "customer_id", None),
            NOW,
            NOW,
        )
    return event_id


async def rows(db: Database, partner_id: uuid.UUID, model: type[Any]) -> list[Any]:
    async with db.tenant_session(partner_id) as session:
        statement = select(model).where(model.partner_id == partner_id)
        return list((await session.execute(statement)).scalars().all())


async def active_reasons(db: Database, partner_id: uuid.UUID) -> list[str]:
    holds = await rows(db, partner_id, Hold)
    return sorted(h.reason for h in holds if h.status == "active")


async def test_acceptable_use_notice_places_misuse_hold(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    event_id = await handle(
        enforcement_db,
        partner_id,
        notice(customer, VendorNotificationKind.ACCEPTABLE_USE_VIOLATION),
    )
    (hold,) = await rows(enforcement_db, partner_id, Hold)
    assert (hold.reason, hold.customer_id, hold.subscription_id) == ("misuse", customer, None)
    assert hold.source_event_id == event_id
    assert hold.placed_by == "policy:acceptable-use-violation"
    placed = await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")
    assert [e["data"]["reason"] for e in placed] == ["misuse"]


async def test_account_compromise_places_hold_and_opens_case(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    event = notice(customer, VendorNotificationKind.ACCOUNT_COMPROMISE)
    event_id = await handle(enforcement_db, partner_id, event)
    assert await active_reasons(enforcement_db, partner_id) == ["compromise"]
    (case,) = await rows(enforcement_db, partner_id, Case)
    assert (case.kind, case.customer_id, case.source_event_id) == (
        "account_compromise",
        customer,
        event_id,
    )
    assert case.vendor_tenant_id == event.vendor_tenant_id
    # The notice did not date the fraud: the credit's deadline waits for the partner to.
    assert case.credit_deadline is None


async def test_a_compromise_notice_dating_the_fraud_opens_its_case_with_the_credit_deadline(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    event = notice(uuid.uuid4(), VendorNotificationKind.ACCOUNT_COMPROMISE).model_copy(
        update={"first_fraudulent_usage_on": date(2026, 10, 1)}
    )
    await handle(enforcement_db, partner_id, event)
    (case,) = await rows(enforcement_db, partner_id, Case)
    assert case.first_fraudulent_usage_on == date(2026, 10, 1)
    assert case.credit_deadline == date(2026, 11, 30)  # 60 calendar days on


async def test_delinquency_places_nonpayment_hold(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await handle(enforcement_db, partner_id, delinquent(uuid.uuid4()))
    assert await active_reasons(enforcement_db, partner_id) == ["nonpayment"]


async def test_confirmed_crypto_mining_places_misuse_hold(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await handle(enforcement_db, partner_id, mining_confirmed(uuid.uuid4()))
    assert await active_reasons(enforcement_db, partner_id) == ["misuse"]


async def test_critical_crypto_mining_waits_for_approval(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer, subscription = uuid.uuid4(), uuid.uuid4()
    event_id = await handle(enforcement_db, partner_id, mining_critical(customer, subscription))
    assert await rows(enforcement_db, partner_id, Hold) == []
    (pending,) = await rows(enforcement_db, partner_id, PendingAction)
    assert (pending.status, pending.action, pending.rule) == (
        "pending",
        "place_hold",
        "critical-crypto-mining",
    )
    assert pending.source_event_id == event_id
    assert pending.params["subscription_ids"] == [str(subscription)]
    (asked,) = await outbox_events(
        enforcement_db, partner_id, "enforcement.action.pending_approval"
    )
    assert asked["data"]["action_id"] == str(pending.id)
    assert asked["data"]["action"] == "suspend_subscription"
    assert asked["data"]["subscription_id"] == str(subscription)
    assert asked["data"]["reason"] == "misuse"


async def test_good_standing_releases_nonpayment_hold(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await handle(enforcement_db, partner_id, delinquent(customer))
    await handle(enforcement_db, partner_id, good_standing(customer))
    assert await active_reasons(enforcement_db, partner_id) == []
    released = await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")
    assert [e["data"]["released_by"] for e in released] == ["policy:payment-brought-current"]


async def test_payment_never_lifts_misuse_or_compromise_hold(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await handle(enforcement_db, partner_id, delinquent(customer))
    await handle(enforcement_db, partner_id, mining_confirmed(customer))
    await handle(
        enforcement_db, partner_id, notice(customer, VendorNotificationKind.ACCOUNT_COMPROMISE)
    )
    await handle(enforcement_db, partner_id, good_standing(customer))
    assert await active_reasons(enforcement_db, partner_id) == ["compromise", "misuse"]


async def test_same_event_twice_acts_once(enforcement_db: Database, partner_id: uuid.UUID) -> None:
    customer = uuid.uuid4()
    event = delinquent(customer)
    event_id = await handle(enforcement_db, partner_id, event)
    await handle(enforcement_db, partner_id, event, event_id=event_id)
    assert len(await rows(enforcement_db, partner_id, Hold)) == 1
    assert len(await rows(enforcement_db, partner_id, ReceivedEvent)) == 1
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")) == 1


async def test_same_alert_twice_asks_for_approval_once(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    event = mining_critical(uuid.uuid4(), uuid.uuid4())
    event_id = await handle(enforcement_db, partner_id, event)
    await handle(enforcement_db, partner_id, event, event_id=event_id)
    assert len(await rows(enforcement_db, partner_id, PendingAction)) == 1
    pending_events = await outbox_events(
        enforcement_db, partner_id, "enforcement.action.pending_approval"
    )
    assert len(pending_events) == 1


async def test_good_standing_before_delinquency_releases_nothing_then_hold_is_placed(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await handle(enforcement_db, partner_id, good_standing(customer))
    assert await rows(enforcement_db, partner_id, Hold) == []
    assert await outbox_events(enforcement_db, partner_id, "enforcement.hold.released") == []
    await handle(enforcement_db, partner_id, delinquent(customer))
    assert await active_reasons(enforcement_db, partner_id) == ["nonpayment"]


async def test_notice_matching_no_customer_does_nothing_but_is_kept(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    event = notice(uuid.uuid4(), VendorNotificationKind.ACCEPTABLE_USE_VIOLATION)
    event = event.model_copy(update={"customer_id": None})
    await handle(enforcement_db, partner_id, event)
    assert await rows(enforcement_db, partner_id, Hold) == []
    assert len(await rows(enforcement_db, partner_id, ReceivedEvent)) == 1


async def test_automatic_action_is_audited_with_policy_version(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    event_id = await handle(enforcement_db, partner_id, delinquent(uuid.uuid4()))
    entries = await audit_log(enforcement_db, partner_id)
    (applied,) = [e for e in entries if e.action == "policy.applied"]
    assert applied.actor == "policy:delinquency"
    assert applied.evidence["policy_version"] == 0
    assert applied.evidence["event_id"] == str(event_id)
    assert "hold.placed" in {e.action for e in entries}


async def test_events_of_one_partner_do_not_touch_another(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    await handle(enforcement_db, partner_id, delinquent(uuid.uuid4()))
    assert await rows(enforcement_db, other, Hold) == []
    assert await rows(enforcement_db, other, ReceivedEvent) == []
