"""The operation runner and the reconciler, against a local fake of the vendor's partner API.

Holds are simulated by writing ``desired_status`` / ``revision`` (and the holds behind them)
straight into the database, as the holds module would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from partnerguard.common.adapters.http import RetryPolicy
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.enforcement import HoldReason
from partnerguard.enforcement.holds import service as holds
from partnerguard.enforcement.models import (
    AuditEntry,
    Customer,
    Hold,
    ProviderOperation,
    Subscription,
)
from partnerguard.enforcement.provider.http import HttpVendorAdapter
from partnerguard.enforcement.provider.jobs import RECONCILE_JOB, RUNNER_JOB, provider_jobs
from partnerguard.enforcement.provider.operations import (
    create_operations,
    request_id_for,
    run_due_operations,
)
from partnerguard.enforcement.provider.reconcile import reconcile
from partnerguard.enforcement.settings import EnforcementSettings
from tests.support.enforcement import RunningEnforcement, audit_log, running_enforcement
from tests.support.events import outbox_events
from tests.support.jwks import Issuer
from tests.support.vendor_fake import FakePartnerCenter

TOKEN = "vendor-token-for-tests"  # noqa: S105 - a test fake's token
RETRY_SECONDS = 5.0


@pytest.fixture
def vendor() -> Iterator[FakePartnerCenter]:
    with FakePartnerCenter(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def adapter_for(
    http: httpx.AsyncClient, vendor: FakePartnerCenter, *, timeout: float = 5.0
) -> HttpVendorAdapter:
    # No retries inside a call: every attempt is the runner's, and visible in its rows.
    policy = RetryPolicy(timeout_seconds=timeout, retries=0)
    return HttpVendorAdapter(http, base_url=vendor.base_url, token=TOKEN, policy=policy)


@dataclass(frozen=True)
class Seeded:
    partner_id: uuid.UUID
    customer_id: uuid.UUID
    vendor_tenant_id: uuid.UUID | None
    subscription_id: uuid.UUID

    @property
    def tenant(self) -> uuid.UUID:
        return self.vendor_tenant_id or self.customer_id


async def seed(
    db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter | None,
    *,
    known_tenant: bool = True,
    customer_id: uuid.UUID | None = None,
) -> Seeded:
    """An active subscription, known to the registry (and to the fake vendor, if given)."""
    seeded = Seeded(
        partner_id=partner_id,
        customer_id=customer_id or uuid.uuid4(),
        vendor_tenant_id=uuid.uuid4() if known_tenant else None,
        subscription_id=uuid.uuid4(),
    )
    etag = (
        vendor.add_subscription(seeded.tenant, seeded.subscription_id)
        if vendor is not None
        else None
    )
    async with db.sweep_session() as session:
        if customer_id is None and known_tenant:
            session.add(
                Customer(
                    partner_id=partner_id,
                    customer_id=seeded.customer_id,
                    vendor_tenant_id=seeded.vendor_tenant_id,
                )
            )
        session.add(
            Subscription(
                partner_id=partner_id,
                subscription_id=seeded.subscription_id,
                customer_id=seeded.customer_id,
                commerce="new_commerce",
                status="active",
                desired_status="active",
                etag=etag,
                revision=0,
            )
        )
    return seeded


async def place_hold(db: Database, seeded: Seeded, reason: str = "fraud") -> uuid.UUID:
    """What the holds module does: an active customer hold, the subscription wanted suspended."""
    async with db.sweep_session() as session:
        hold = Hold(
            partner_id=seeded.partner_id,
            customer_id=seeded.customer_id,
            subscription_id=None,
            reason=reason,
            status="active",
            placed_by="test",
            placed_at=datetime.now(UTC),
        )
        session.add(hold)
        await want(session, seeded, "suspended")
        await session.flush()
        return hold.id


async def release_holds(db: Database, seeded: Seeded) -> None:
    async with db.sweep_session() as session:
        holds = await session.scalars(
            select(Hold).where(
                Hold.partner_id == seeded.partner_id, Hold.customer_id == seeded.customer_id
            )
        )
        for hold in holds:
            hold.status = "released"
        await want(session, seeded, "active")


async def want(session: Any, seeded: Seeded, desired: str) -> None:
    subscription = await session.scalar(
        select(Subscription).where(
            Subscription.partner_id == seeded.partner_id,
            Subscription.subscription_id == seeded.subscription_id,
        )
    )
    subscription.desired_status = desired
    subscription.revision += 1


async def subscription_row(db: Database, seeded: Seeded) -> Subscription:
    async with db.sweep_session() as session:
        row = await session.scalar(
            select(Subscription).where(
                Subscription.partner_id == seeded.partner_id,
                Subscription.subscription_id == seeded.subscription_id,
            )
        )
        assert row is not None
        return row


async def operations_of(db: Database, seeded: Seeded) -> list[ProviderOperation]:
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(ProviderOperation)
            .where(
                ProviderOperation.partner_id == seeded.partner_id,
                ProviderOperation.subscription_id == seeded.subscription_id,
            )
            .order_by(ProviderOperation.id)
        )
        return list(rows)


async def audit_of(db: Database, partner_id: uuid.UUID) -> list[AuditEntry]:
    return await audit_log(db, partner_id)


async def run(
    db: Database,
    adapter: Any,
    now: datetime,
    *,
    max_attempts: int = 8,
    batch: int = 50,
) -> int:
    return await run_due_operations(
        db, adapter, now, batch=batch, max_attempts=max_attempts, retry_seconds=RETRY_SECONDS
    )


# --- suspend and reinstate --------------------------------------------------------------------


async def test_a_held_subscription_is_suspended_at_the_vendor(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded, "fraud")
    now = datetime.now(UTC)

    assert await run(enforcement_db, adapter_for(http, vendor), now) == 1

    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
    row = await subscription_row(enforcement_db, seeded)
    assert (row.status, row.etag) == (
        "suspended",
        vendor.etag_of(seeded.tenant, seeded.subscription_id),
    )
    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.action, operation.status, operation.attempts, operation.revision) == (
        "suspend_subscription",
        "succeeded",
        1,
        1,
    )
    assert operation.request_id == request_id_for(partner_id, seeded.subscription_id, 1)
    (patch,) = vendor.received("PATCH")
    assert (
        patch.path
        == f"/v1/customers/{seeded.vendor_tenant_id}/subscriptions/{seeded.subscription_id}"
    )
    assert patch.body == {"status": "suspended"}
    assert patch.header("MS-RequestId") == str(operation.request_id)
    assert patch.header("MS-CorrelationId")
    assert patch.header("If-Match") == '"1"'
    assert patch.header("Authorization") == f"Bearer {TOKEN}"


async def test_a_suspension_is_announced_with_its_holds_and_audited(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    fraud = await place_hold(enforcement_db, seeded, "fraud")
    nonpayment = await place_hold(enforcement_db, seeded, "nonpayment")

    await run(enforcement_db, adapter_for(http, vendor), datetime.now(UTC))

    (event,) = await outbox_events(enforcement_db, partner_id, "enforcement.subscription.suspended")
    (operation,) = await operations_of(enforcement_db, seeded)
    assert event["subject"] == str(seeded.subscription_id)
    assert event["customerid"] == str(seeded.customer_id)
    assert event["data"]["action_id"] == str(operation.id)
    assert event["data"]["hold_ids"] == [str(fraud), str(nonpayment)]
    assert event["data"]["reasons"] == ["fraud", "nonpayment"]
    entries = await audit_of(enforcement_db, partner_id)
    assert [e.action for e in entries] == [
        "provider_operation.requested",
        "subscription.suspended",
    ]
    assert {e.subject_id for e in entries} == {str(seeded.subscription_id)}
    assert entries[1].actor == "system:provider"
    assert entries[1].evidence["request_id"] == str(operation.request_id)
    assert entries[1].evidence["hold_ids"] == [str(fraud), str(nonpayment)]


async def test_releasing_the_last_hold_reinstates_the_subscription(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    adapter = adapter_for(http, vendor)
    await place_hold(enforcement_db, seeded)
    await run(enforcement_db, adapter, datetime.now(UTC))
    await release_holds(enforcement_db, seeded)

    assert await run(enforcement_db, adapter, datetime.now(UTC)) == 1

    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "active"
    assert (await subscription_row(enforcement_db, seeded)).status == "active"
    suspend, reinstate = await operations_of(enforcement_db, seeded)
    assert (reinstate.action, reinstate.status, reinstate.revision) == (
        "reinstate_subscription",
        "succeeded",
        2,
    )
    assert reinstate.request_id != suspend.request_id
    (event,) = await outbox_events(
        enforcement_db, partner_id, "enforcement.subscription.reinstated"
    )
    assert event["data"]["action_id"] == str(reinstate.id)
    assert [e.action for e in await audit_of(enforcement_db, partner_id)][-1] == (
        "subscription.reinstated"
    )


async def test_a_subscription_already_as_wanted_gets_no_operation(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)

    assert await run(enforcement_db, adapter_for(http, vendor), datetime.now(UTC)) == 0

    assert await operations_of(enforcement_db, seeded) == []
    assert vendor.requests == []


async def test_an_unknown_vendor_tenant_falls_back_to_the_customer_id(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor, known_tenant=False)
    await place_hold(enforcement_db, seeded)

    await run(enforcement_db, adapter_for(http, vendor), datetime.now(UTC))

    (patch,) = vendor.received("PATCH")
    assert patch.path.startswith(f"/v1/customers/{seeded.customer_id}/")
    assert (await subscription_row(enforcement_db, seeded)).status == "suspended"


# --- failures and retries ---------------------------------------------------------------------


async def test_server_errors_are_retried_with_backoff_and_the_vendor_changes_once(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    vendor.fail_next(2, status=500)

    await run(enforcement_db, adapter, now)
    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("pending", 1)
    assert operation.next_attempt_at == now + timedelta(seconds=RETRY_SECONDS)
    assert "500" in (operation.last_error or "")

    assert await run(enforcement_db, adapter, now + timedelta(seconds=1)) == 0  # not due yet

    await run(enforcement_db, adapter, now + timedelta(seconds=RETRY_SECONDS))
    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("pending", 2)
    assert operation.next_attempt_at == now + timedelta(seconds=RETRY_SECONDS * 3)

    await run(enforcement_db, adapter, now + timedelta(seconds=RETRY_SECONDS * 3))
    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts, operation.last_error) == ("succeeded", 3, None)
    patches = vendor.received("PATCH")
    assert len(patches) == 3
    assert {p.header("MS-RequestId") for p in patches} == {str(operation.request_id)}
    assert len(vendor.changes_of(seeded.subscription_id)) == 1
    assert (
        len(await outbox_events(enforcement_db, partner_id, "enforcement.subscription.suspended"))
        == 1
    )


async def test_a_timeout_is_retried_later(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor, timeout=0.3), datetime.now(UTC)
    vendor.hang_next(1, seconds=3.0)

    await run(enforcement_db, adapter, now)

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("pending", 1)
    assert "timed out" in (operation.last_error or "")
    assert (await subscription_row(enforcement_db, seeded)).status == "active"
    await run(enforcement_db, adapter_for(http, vendor), now + timedelta(seconds=RETRY_SECONDS))
    (operation,) = await operations_of(enforcement_db, seeded)
    assert operation.status == "succeeded"


async def test_a_late_answer_lost_to_a_timeout_is_not_made_twice(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    now = datetime.now(UTC)
    vendor.answer_late(1, seconds=3.0)  # the vendor suspends it, but we stop waiting

    await run(enforcement_db, adapter_for(http, vendor, timeout=0.3), now)
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
    (operation,) = await operations_of(enforcement_db, seeded)
    assert operation.status == "pending"

    # The retry's ETag is stale now, yet the same MS-RequestId gets the remembered answer.
    await run(enforcement_db, adapter_for(http, vendor), now + timedelta(seconds=RETRY_SECONDS))

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("succeeded", 2)
    assert len(vendor.changes_of(seeded.subscription_id)) == 1
    assert (await subscription_row(enforcement_db, seeded)).etag == vendor.etag_of(
        seeded.tenant, seeded.subscription_id
    )


async def test_a_stale_etag_is_refreshed_and_the_change_made(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    vendor.touch(seeded.tenant, seeded.subscription_id)  # our recorded ETag is stale now

    await run(enforcement_db, adapter_for(http, vendor), datetime.now(UTC))

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("succeeded", 1)
    assert [r.method for r in vendor.requests] == ["PATCH", "GET", "PATCH"]
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"


async def test_a_vendor_refusal_fails_the_operation_at_once(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    vendor.fail_next(1, status=409)

    await run(enforcement_db, adapter, now)
    # A failed operation is not repeated by the runner, nor replaced (the reconciler restarts it).
    assert await run(enforcement_db, adapter, now + timedelta(hours=2)) == 0

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("failed", 1)
    assert "409" in (operation.last_error or "")
    assert len(vendor.received("PATCH")) == 1
    assert (await subscription_row(enforcement_db, seeded)).status == "active"
    failed = [
        e
        for e in await audit_of(enforcement_db, partner_id)
        if e.action == "provider_operation.failed"
    ]
    assert len(failed) == 1
    assert failed[0].reason == "the vendor refused the change"
    assert (
        await outbox_events(enforcement_db, partner_id, "enforcement.subscription.suspended") == []
    )


async def test_the_runner_gives_up_after_the_last_attempt(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    vendor.fail_next(10, status=503)

    for _ in range(5):
        await run(enforcement_db, adapter, now, max_attempts=3)
        now += timedelta(hours=1)

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("failed", 3)
    assert "503" in (operation.last_error or "")
    assert len(vendor.received("PATCH")) == 3
    (failed,) = [
        e
        for e in await audit_of(enforcement_db, partner_id)
        if e.action == "provider_operation.failed"
    ]
    assert failed.reason == "gave up after 3 attempts"


async def test_an_operation_is_superseded_when_the_wanted_status_flips_back(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    now = datetime.now(UTC)
    assert await create_operations(enforcement_db, now, batch=10) == 1
    await release_holds(enforcement_db, seeded)  # before the suspension was carried out

    assert await run(enforcement_db, adapter_for(http, vendor), now) == 0

    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("superseded", 0)
    assert vendor.requests == []
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "active"
    actions = [e.action for e in await audit_of(enforcement_db, partner_id)]
    assert actions == ["provider_operation.requested", "provider_operation.superseded"]


async def test_a_superseded_operation_gives_way_to_the_new_revision(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    now = datetime.now(UTC)
    await create_operations(enforcement_db, now, batch=10)
    await release_holds(enforcement_db, seeded)
    await place_hold(enforcement_db, seeded, "misuse")  # revision 3 wants suspended again

    await run(enforcement_db, adapter_for(http, vendor), now)

    first, second = await operations_of(enforcement_db, seeded)
    assert (first.status, first.revision) == ("superseded", 1)
    assert (second.status, second.revision) == ("succeeded", 3)
    assert vendor.received("PATCH")[0].header("MS-RequestId") == str(second.request_id)
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"


async def test_a_change_superseded_while_in_flight_is_recorded_and_undone(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    vendor.pause_answers()
    in_flight = asyncio.create_task(run(enforcement_db, adapter, now))
    assert await asyncio.to_thread(vendor.wait_for, 1, "PATCH")
    await release_holds(enforcement_db, seeded)  # while the vendor is suspending it
    await create_operations(enforcement_db, now, batch=10)
    vendor.resume_answers()
    await in_flight

    (operation,) = await operations_of(enforcement_db, seeded)
    assert operation.status == "superseded"
    # The vendor did suspend it: that is recorded, and the next round reinstates it.
    assert (await subscription_row(enforcement_db, seeded)).status == "suspended"
    await run(enforcement_db, adapter, now)

    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "active"
    _, reinstate = await operations_of(enforcement_db, seeded)
    assert (reinstate.action, reinstate.status, reinstate.revision) == (
        "reinstate_subscription",
        "succeeded",
        2,
    )
    actions = [e.action for e in await audit_of(enforcement_db, partner_id)]
    assert "subscription.status_observed" in actions
    assert actions[-1] == "subscription.reinstated"


# --- reconciliation ---------------------------------------------------------------------------


async def test_reconciliation_repairs_a_reactivation_made_at_the_vendor(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    await run(enforcement_db, adapter, now)
    vendor.change_in_portal(seeded.tenant, seeded.subscription_id, "active")

    assert await reconcile(enforcement_db, adapter, now, limit=10) == 1
    assert (await subscription_row(enforcement_db, seeded)).status == "active"
    await run(enforcement_db, adapter, now)

    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
    first, repair = await operations_of(enforcement_db, seeded)
    assert (repair.action, repair.status, repair.revision) == (
        "suspend_subscription",
        "succeeded",
        1,
    )
    assert repair.request_id != first.request_id  # else the vendor would replay the old answer
    row = await subscription_row(enforcement_db, seeded)
    assert (row.status, row.etag) == (
        "suspended",
        vendor.etag_of(seeded.tenant, seeded.subscription_id),
    )
    (drift,) = [
        e
        for e in await audit_of(enforcement_db, partner_id)
        if e.action == "subscription.drift_found"
    ]
    assert drift.actor == "system:reconciler"
    assert drift.evidence["recorded_status"] == "suspended"
    assert drift.evidence["vendor_status"] == "active"
    assert drift.evidence["desired_status"] == "suspended"


async def test_reconciliation_walks_every_page_and_leaves_agreement_alone(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = [await seed(enforcement_db, partner_id, vendor) for _ in range(5)]
    drifted = seeded[-1]
    vendor.change_in_portal(drifted.tenant, drifted.subscription_id, "suspended")

    found = await reconcile(enforcement_db, adapter_for(http, vendor), datetime.now(UTC), limit=2)

    assert found == 1
    assert len(vendor.received("GET")) == 5
    assert (await subscription_row(enforcement_db, drifted)).status == "suspended"
    # Wanted active, suspended at the vendor: a reinstatement is on its way.
    (operation,) = await operations_of(enforcement_db, drifted)
    assert (operation.action, operation.status) == ("reinstate_subscription", "pending")
    for other in seeded[:-1]:
        assert await operations_of(enforcement_db, other) == []
    assert [e.action for e in await audit_of(enforcement_db, partner_id)] == [
        "subscription.drift_found",
        "provider_operation.requested",
    ]


async def test_reconciliation_restarts_a_given_up_operation(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    adapter, now = adapter_for(http, vendor), datetime.now(UTC)
    vendor.fail_next(1, status=409)
    await run(enforcement_db, adapter, now)

    assert await reconcile(enforcement_db, adapter, now, limit=10) == 0  # no drift: it failed
    await run(enforcement_db, adapter, now)

    failed, restarted = await operations_of(enforcement_db, seeded)
    assert failed.status == "failed"
    assert restarted.status == "succeeded"
    assert restarted.request_id == request_id_for(partner_id, seeded.subscription_id, 1, 1)
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"


async def test_reconciliation_skips_what_the_vendor_cannot_answer(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    vendor.fail_next(1, status=503)

    assert (
        await reconcile(enforcement_db, adapter_for(http, vendor), datetime.now(UTC), limit=10) == 0
    )

    assert (await subscription_row(enforcement_db, seeded)).status == "active"
    assert await audit_of(enforcement_db, partner_id) == []


# --- many runners -----------------------------------------------------------------------------


async def test_two_runners_at_once_carry_out_each_operation_once(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = [await seed(enforcement_db, partner_id, vendor) for _ in range(6)]
    for one in seeded:
        await place_hold(enforcement_db, one)
    now = datetime.now(UTC)

    async with httpx.AsyncClient() as other_http:
        done = await asyncio.gather(
            run(enforcement_db, adapter_for(http, vendor), now),
            run(enforcement_db, adapter_for(other_http, vendor), now),
        )

    assert sum(done) == 6
    for one in seeded:
        (operation,) = await operations_of(enforcement_db, one)
        assert (operation.status, operation.attempts) == ("succeeded", 1)
        assert len(vendor.changes_of(one.subscription_id)) == 1
    assert len(vendor.received("PATCH")) == 6
    events = await outbox_events(enforcement_db, partner_id, "enforcement.subscription.suspended")
    assert len(events) == 6


async def test_another_partners_subscriptions_are_kept_apart(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    other_partner = uuid.uuid4()
    mine = await seed(enforcement_db, partner_id, vendor)
    theirs = await seed(enforcement_db, other_partner, vendor)
    await place_hold(enforcement_db, mine)
    await place_hold(enforcement_db, theirs)

    await run(enforcement_db, adapter_for(http, vendor), datetime.now(UTC))

    (mine_event,) = await outbox_events(
        enforcement_db, partner_id, "enforcement.subscription.suspended"
    )
    assert mine_event["data"]["subscription_id"] == str(mine.subscription_id)
    assert {e.subject_id for e in await audit_of(enforcement_db, other_partner)} == {
        str(theirs.subscription_id)
    }


# --- the periodic jobs ------------------------------------------------------------------------


async def test_the_local_adapter_is_the_default(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    jobs = provider_jobs(enforcement.settings)
    assert [(job.name, job.singleton) for job in jobs] == [(RUNNER_JOB, False)]
    seeded = await seed(enforcement.db, partner_id, None)
    await place_hold(enforcement.db, seeded)

    await jobs[0].run(enforcement.runtime)

    row = await subscription_row(enforcement.db, seeded)
    assert (row.status, row.etag) == ("suspended", '"local-1"')
    assert len(await enforcement.events(partner_id, "enforcement.subscription.suspended")) == 1


class DatabaseGoingAway:
    """The service's database, refusing the sweep role's sessions numbered in ``down`` (1-based),
    as a restarting PostgreSQL would."""

    def __init__(self, db: Database, down: set[int]) -> None:
        self.db = db
        self.down = down
        self.sessions = 0

    @asynccontextmanager
    async def sweep_session(self) -> AsyncIterator[Any]:
        self.sessions += 1
        if self.sessions in self.down:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        async with self.db.sweep_session() as session:
            yield session


async def test_the_vendors_answer_is_recorded_once_the_database_is_back(
    enforcement_db: Database,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
    http: httpx.AsyncClient,
) -> None:
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)
    now = datetime.now(UTC)
    assert await create_operations(enforcement_db, now, batch=10) == 1
    # Session 1 leases the operation; the vendor then answers while the database is down for
    # sessions 2 and 3 (recording the answer), and back for session 4.
    flaky = DatabaseGoingAway(enforcement_db, down={2, 3})

    attempted = await run_due_operations(
        flaky,  # type: ignore[arg-type]
        adapter_for(http, vendor),
        now,
        batch=10,
        max_attempts=8,
        retry_seconds=RETRY_SECONDS,
        plan=False,
    )

    assert attempted == 1
    assert flaky.sessions == 4
    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
    row = await subscription_row(enforcement_db, seeded)
    assert row.status == "suspended"
    (operation,) = await operations_of(enforcement_db, seeded)
    assert (operation.status, operation.attempts) == ("succeeded", 1)
    assert len(vendor.received("PATCH")) == 1


async def test_a_runner_woken_again_within_its_interval_only_carries_out(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    """Holds plan their own operations; the runner's planning (the backstop) runs once per
    interval however often it is woken."""
    settings = enforcement.settings.model_copy(update={"provider_interval_seconds": 3600.0})
    (runner,) = provider_jobs(settings)
    first = await seed(enforcement.db, partner_id, None)
    await place_hold(enforcement.db, first)  # wanted suspended, with no operation planned
    await runner.run(enforcement.runtime)
    assert (await subscription_row(enforcement.db, first)).status == "suspended"

    unplanned = await seed(enforcement.db, partner_id, None)
    await place_hold(enforcement.db, unplanned)
    planned = await seed(enforcement.db, partner_id, None)
    async with enforcement.db.tenant_session(partner_id) as session:
        await holds.place_hold(
            session,
            partner_id,
            customer_id=planned.customer_id,
            subscription_id=None,
            reason=HoldReason.FRAUD,
            actor="test",
            now=datetime.now(UTC),
        )
    await runner.run(enforcement.runtime)

    assert (await subscription_row(enforcement.db, planned)).status == "suspended"
    assert await operations_of(enforcement.db, unplanned) == []


async def test_the_jobs_use_the_vendor_api_when_it_is_configured(
    enforcement_db: Database,
    issuer: Issuer,
    en_settings: EnforcementSettings,
    partner_id: uuid.UUID,
    vendor: FakePartnerCenter,
) -> None:
    settings = en_settings.model_copy(
        update={"provider_url": vendor.base_url, "provider_token": TOKEN, "provider_retries": 0}
    )
    jobs = {job.name: job for job in provider_jobs(settings)}
    assert (jobs[RUNNER_JOB].singleton, jobs[RECONCILE_JOB].singleton) == (False, True)
    seeded = await seed(enforcement_db, partner_id, vendor)
    await place_hold(enforcement_db, seeded)

    async with running_enforcement(enforcement_db, issuer, settings) as running:
        await jobs[RUNNER_JOB].run(running.runtime)
        assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
        vendor.change_in_portal(seeded.tenant, seeded.subscription_id, "active")
        await jobs[RECONCILE_JOB].run(running.runtime)
        await jobs[RUNNER_JOB].run(running.runtime)

    assert vendor.status_of(seeded.tenant, seeded.subscription_id) == "suspended"
    assert [c.request_id is None for c in vendor.changes_of(seeded.subscription_id)] == [
        False,
        True,
        False,
    ]
