"""Holds through the service functions policies, approvals and cases call: every combination of
holds and release order, the desired status and revision they leave, their events and audit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from partnerguard.common.db.engine import Database
from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.enforcement import HoldReason
from partnerguard.enforcement.audit.log import verify
from partnerguard.enforcement.holds.service import place_hold, release_hold, release_holds_for
from partnerguard.enforcement.models import Customer, Hold, Subscription
from partnerguard.enforcement.registry.service import record_customer, record_subscription
from tests.support.enforcement import audit_log
from tests.support.events import outbox_events

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ACTOR = "policy:test"


async def place(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    reason: HoldReason,
    subscription_id: uuid.UUID | None = None,
    **extra: Any,
) -> tuple[Hold, bool]:
    async with db.tenant_session(partner_id) as session:
        return await place_hold(
            session,
            partner_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            reason=reason,
            actor=ACTOR,
            now=NOW,
            **extra,
        )


async def release(
    db: Database, partner_id: uuid.UUID, hold: Hold, note: str | None = "resolved"
) -> Hold:
    async with db.tenant_session(partner_id) as session:
        return await release_hold(
            session, partner_id, hold.id, actor="client:ops", now=NOW, note=note
        )


async def subscribe(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    subscription_id: uuid.UUID | None = None,
) -> uuid.UUID:
    subscription_id = subscription_id or uuid.uuid4()
    async with db.tenant_session(partner_id) as session:
        await record_subscription(
            session,
            partner_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            commerce="new_commerce",
            now=NOW,
        )
    return subscription_id


async def states(db: Database, partner_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, int]]:
    """Each subscription's (desired status, revision)."""
    async with db.tenant_session(partner_id) as session:
        rows = (await session.execute(select(Subscription))).scalars().all()
        return {row.subscription_id: (row.desired_status, row.revision) for row in rows}


async def audit_actions(db: Database, partner_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    return [(row.action, row.subject_id, row.actor) for row in await audit_log(db, partner_id)]


async def customer_with_subscriptions(
    db: Database, partner_id: uuid.UUID, count: int = 2
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    customer_id = uuid.uuid4()
    return customer_id, [await subscribe(db, partner_id, customer_id) for _ in range(count)]


async def test_customer_hold_suspends_every_subscription_and_bumps_revision(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)

    hold, created = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)

    assert created
    assert hold.status == "active"
    assert hold.placed_by == ACTOR
    assert await states(enforcement_db, partner_id) == {
        one: ("suspended", 1),
        two: ("suspended", 1),
    }


async def test_releasing_nonpayment_keeps_fraud_suspension_and_releasing_fraud_reinstates(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)
    nonpayment, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    fraud, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)
    assert await states(enforcement_db, partner_id) == {
        one: ("suspended", 1),
        two: ("suspended", 1),
    }

    await release(enforcement_db, partner_id, nonpayment)
    assert await states(enforcement_db, partner_id) == {
        one: ("suspended", 1),
        two: ("suspended", 1),
    }

    await release(enforcement_db, partner_id, fraud)
    assert await states(enforcement_db, partner_id) == {one: ("active", 2), two: ("active", 2)}
    released = await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")
    assert [(e["data"]["reason"], e["data"]["active_holds_remaining"]) for e in released] == [
        ("nonpayment", 1),
        ("fraud", 0),
    ]


async def test_releasing_fraud_first_keeps_nonpayment_suspension_until_it_is_released(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    nonpayment, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    fraud, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)

    await release(enforcement_db, partner_id, fraud)
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1)}

    await release(enforcement_db, partner_id, nonpayment)
    assert await states(enforcement_db, partner_id) == {one: ("active", 2)}


async def test_subscription_hold_suspends_only_its_subscription(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)

    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.MISUSE, one)

    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1), two: ("active", 0)}
    (placed,) = await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")
    assert placed["data"]["target_type"] == "subscription"
    assert placed["data"]["subscription_id"] == str(one)
    await release(enforcement_db, partner_id, hold)
    assert await states(enforcement_db, partner_id) == {one: ("active", 2), two: ("active", 0)}


async def test_releasing_customer_hold_leaves_subscription_hold_in_force(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)
    on_one, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.MISUSE, one)
    on_customer, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    assert await states(enforcement_db, partner_id) == {
        one: ("suspended", 1),
        two: ("suspended", 1),
    }

    await release(enforcement_db, partner_id, on_customer)
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1), two: ("active", 2)}

    await release(enforcement_db, partner_id, on_one)
    assert await states(enforcement_db, partner_id) == {one: ("active", 2), two: ("active", 2)}
    released = await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")
    # No customer hold is left when the customer hold goes; none covers one when its own goes.
    assert [e["data"]["active_holds_remaining"] for e in released] == [0, 0]


async def test_releasing_subscription_hold_under_a_customer_hold_keeps_it_suspended(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)
    on_customer, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)
    on_one, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.COMPROMISE, one)

    await release(enforcement_db, partner_id, on_one)

    assert await states(enforcement_db, partner_id) == {
        one: ("suspended", 1),
        two: ("suspended", 1),
    }
    (released,) = await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")
    assert released["data"]["active_holds_remaining"] == 1
    await release(enforcement_db, partner_id, on_customer)
    assert await states(enforcement_db, partner_id) == {one: ("active", 2), two: ("active", 2)}


async def test_release_holds_for_nonpayment_never_releases_fraud_or_misuse(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)
    on_customer, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    on_two, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT, two)
    fraud, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD, one)
    misuse, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.MISUSE, one)

    async with enforcement_db.tenant_session(partner_id) as session:
        released = await release_holds_for(
            session,
            partner_id,
            customer_id=customer_id,
            reason=HoldReason.NONPAYMENT,
            actor="policy:payment_current",
            now=NOW,
            note="payment brought current",
        )

    assert {h.id for h in released} == {on_customer.id, on_two.id}
    assert all(
        h.status == "released" and h.released_by == "policy:payment_current" for h in released
    )
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1), two: ("active", 2)}
    async with enforcement_db.tenant_session(partner_id) as session:
        active = (await session.execute(select(Hold).where(Hold.status == "active"))).scalars()
        assert {h.id for h in active} == {fraud.id, misuse.id}
    events = await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")
    assert {e["data"]["hold_id"] for e in events} == {str(on_customer.id), str(on_two.id)}


async def test_release_holds_for_with_nothing_to_release_does_nothing(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)

    async with enforcement_db.tenant_session(partner_id) as session:
        released = await release_holds_for(
            session,
            partner_id,
            customer_id=customer_id,
            reason=HoldReason.NONPAYMENT,
            actor=ACTOR,
            now=NOW,
        )

    assert released == []
    assert await outbox_events(enforcement_db, partner_id, "enforcement.hold.released") == []


async def test_placing_the_same_active_hold_again_returns_it_without_event_or_audit(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    first, created = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    again, created_again = await place(
        enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT, note="second delivery"
    )

    assert created
    assert not created_again
    assert again.id == first.id
    assert again.note is None
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1)}
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")) == 1
    # The vendor change is planned with the first hold only.
    assert [a for a, _, _ in await audit_actions(enforcement_db, partner_id)] == [
        "hold.placed",
        "provider_operation.requested",
    ]


async def test_same_reason_on_other_targets_are_separate_holds(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await customer_with_subscriptions(enforcement_db, partner_id)
    holds = [
        await place(enforcement_db, partner_id, customer_id, HoldReason.MANUAL, target)
        for target in (None, one, two)
    ]
    assert all(created for _, created in holds)
    assert len({hold.id for hold, _ in holds}) == 3


async def test_a_released_hold_can_be_placed_anew(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    first, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    await release(enforcement_db, partner_id, first)

    second, created = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)

    assert created
    assert second.id != first.id
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 3)}


async def test_concurrent_placements_of_one_hold_create_it_once(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)

    results = await asyncio.gather(
        *(place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD) for _ in range(4))
    )

    assert sum(created for _, created in results) == 1
    assert len({hold.id for hold, _ in results}) == 1
    assert await states(enforcement_db, partner_id) == {one: ("suspended", 1)}
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed")) == 1


async def test_concurrent_releases_of_one_hold_release_it_once(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)

    results = await asyncio.gather(
        *(release(enforcement_db, partner_id, hold) for _ in range(3)), return_exceptions=True
    )

    assert sum(isinstance(r, Hold) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 2
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")) == 1


async def test_releasing_a_released_hold_is_a_conflict_and_changes_nothing(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.MANUAL)
    await release(enforcement_db, partner_id, hold, note="first")

    with pytest.raises(Conflict):
        await release(enforcement_db, partner_id, hold, note="second")

    async with enforcement_db.tenant_session(partner_id) as session:
        stored = await session.get(Hold, hold.id)
        assert stored is not None
        assert stored.release_note == "first"
    assert len(await outbox_events(enforcement_db, partner_id, "enforcement.hold.released")) == 1


async def test_releasing_an_unknown_or_another_partners_hold_is_not_found(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.MANUAL)
    other = uuid.uuid4()

    with pytest.raises(NotFound):
        async with enforcement_db.tenant_session(other) as session:
            await release_hold(session, other, hold.id, actor=ACTOR, now=NOW)
    with pytest.raises(NotFound):
        async with enforcement_db.tenant_session(partner_id) as session:
            await release_hold(session, partner_id, uuid.uuid4(), actor=ACTOR, now=NOW)

    async with enforcement_db.tenant_session(partner_id) as session:
        stored = await session.get(Hold, hold.id)
        assert stored is not None
        assert stored.status == "active"


async def test_hold_events_carry_the_hold_and_order_by_customer(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    source = uuid.uuid4()
    hold, _ = await place(
        enforcement_db,
        partner_id,
        customer_id,
        HoldReason.VENDOR_ENFORCEMENT,
        source_event_id=source,
        note="vendor notice",
    )
    await release(enforcement_db, partner_id, hold, note="vendor lifted it")

    placed, released = await outbox_events(enforcement_db, partner_id)
    assert placed["type"] == "enforcement.hold.placed"
    assert placed["subject"] == str(hold.id)
    assert placed["customerid"] == str(customer_id)
    assert placed["data"] == {
        "hold_id": str(hold.id),
        "target_type": "customer",
        "customer_id": str(customer_id),
        "subscription_id": None,
        "reason": "vendor_enforcement",
        "placed_by": ACTOR,
        "source_event_id": str(source),
        "note": "vendor notice",
        "placed_at": placed["data"]["placed_at"],
    }
    assert datetime.fromisoformat(placed["data"]["placed_at"]) == NOW
    assert released["type"] == "enforcement.hold.released"
    assert released["data"]["released_by"] == "client:ops"
    assert released["data"]["note"] == "vendor lifted it"
    assert released["data"]["active_holds_remaining"] == 0


async def test_placing_and_releasing_are_audited_in_an_intact_chain(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (one,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    hold, _ = await place(
        enforcement_db, partner_id, customer_id, HoldReason.FRAUD, note="card testing"
    )
    await release(enforcement_db, partner_id, hold, note="false positive")

    # Each change of the wanted status plans the vendor's in the same transaction: the
    # suspension, then (released before the vendor confirmed it) its cancellation.
    assert await audit_actions(enforcement_db, partner_id) == [
        ("hold.placed", str(hold.id), ACTOR),
        ("provider_operation.requested", str(one), "system:provider"),
        ("hold.released", str(hold.id), "client:ops"),
        ("provider_operation.superseded", str(one), "system:provider"),
    ]
    entries = await audit_log(enforcement_db, partner_id)
    placed, released = entries[0], entries[2]
    assert [placed.reason, released.reason] == ["card testing", "false positive"]
    assert placed.evidence["reason"] == "fraud"
    assert placed.evidence["desired_status_changed"] == {str(one): "suspended"}
    assert released.evidence["desired_status_changed"] == {str(one): "active"}
    async with enforcement_db.tenant_session(partner_id) as session:
        assert (await verify(session, partner_id)).intact


# --- out of order ------------------------------------------------------------------------------


async def test_a_hold_for_an_unknown_customer_creates_its_registry_row(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()

    _, created = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)

    assert created
    async with enforcement_db.tenant_session(partner_id) as session:
        customer = (await session.execute(select(Customer))).scalar_one()
        assert customer.customer_id == customer_id
        assert customer.approved_at is None
        # The approval arriving later fills the row in.
        tenant = uuid.uuid4()
        await record_customer(
            session, partner_id, customer_id, vendor_tenant_id=tenant, approved_at=NOW, now=NOW
        )
        assert customer.vendor_tenant_id == tenant


async def test_subscription_registered_under_a_customer_hold_starts_suspended(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)

    late = await subscribe(enforcement_db, partner_id, customer_id)

    assert await states(enforcement_db, partner_id) == {late: ("suspended", 0)}
    await release(enforcement_db, partner_id, hold)
    assert await states(enforcement_db, partner_id) == {late: ("active", 1)}


async def test_a_hold_on_a_subscription_not_yet_registered_applies_once_it_is(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id, (known,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)
    future = uuid.uuid4()
    await place(enforcement_db, partner_id, customer_id, HoldReason.MISUSE, future)

    await subscribe(enforcement_db, partner_id, customer_id, future)

    assert await states(enforcement_db, partner_id) == {
        known: ("active", 0),
        future: ("suspended", 0),
    }


async def test_a_subscription_registered_under_a_released_hold_starts_active(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    hold, _ = await place(enforcement_db, partner_id, customer_id, HoldReason.NONPAYMENT)
    await release(enforcement_db, partner_id, hold)

    late = await subscribe(enforcement_db, partner_id, customer_id)

    assert await states(enforcement_db, partner_id) == {late: ("active", 0)}


async def test_a_hold_on_another_customers_subscription_is_refused(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    _, (theirs,) = await customer_with_subscriptions(enforcement_db, partner_id, 1)

    with pytest.raises(Unprocessable):
        await place(enforcement_db, partner_id, uuid.uuid4(), HoldReason.MANUAL, theirs)

    assert await outbox_events(enforcement_db, partner_id, "enforcement.hold.placed") == []


async def test_holds_of_one_partner_leave_another_partners_subscriptions_alone(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    customer_id = uuid.uuid4()
    subscription = await subscribe(enforcement_db, other, customer_id)

    await place(enforcement_db, partner_id, customer_id, HoldReason.FRAUD)

    assert await states(enforcement_db, other) == {subscription: ("active", 0)}
    assert await outbox_events(enforcement_db, other) == []


async def test_hold_placed_at_is_the_time_given(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    when = NOW - timedelta(days=3)
    async with enforcement_db.tenant_session(partner_id) as session:
        hold, _ = await place_hold(
            session,
            partner_id,
            customer_id=uuid.uuid4(),
            subscription_id=None,
            reason=HoldReason.MANUAL,
            actor=ACTOR,
            now=when,
        )
    assert hold.placed_at == when


async def test_holds_keep_being_placed_after_the_insert_is_prepared_many_times(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    """PostgreSQL switches a prepared statement to a generic plan after five runs; the insert
    must still find its partial unique index then (it did not while the index's predicate
    was a bound parameter)."""
    now = datetime.now(UTC)
    async with enforcement_db.tenant_session(partner_id) as session:
        for _ in range(12):
            hold, created = await place_hold(
                session,
                partner_id,
                customer_id=uuid.uuid4(),
                subscription_id=None,
                reason=HoldReason.MISUSE,
                actor="test",
                now=now,
            )
            assert created
