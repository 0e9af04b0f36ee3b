"""The reconciler: reads each subscription's actual status at the vendor and repairs drift.

Someone may change a subscription at the vendor behind our back (an admin reactivates a
suspended one in the vendor's portal; the vendor suspends one itself). Where the vendor's status
differs from the one we recorded, the reconciler records the vendor's and audits the drift; the
operation runner then sees the wanted status differ from the actual one and brings it back.
It also starts a fresh operation where the last one for the current revision gave up.

It walks every partner's subscriptions in key order, a page at a time: one short transaction
reads a page, the vendor is asked with no transaction open, and each correction is a short
transaction of its own that first checks the subscription did not change meanwhile (an
operation completing between our read and the vendor's answer wins).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.db.engine import Database
from partnerguard.enforcement.audit import log as audit
from partnerguard.enforcement.provider.adapter import VendorAdapter, VendorSubscription
from partnerguard.enforcement.provider.operations import plan_operation
from partnerguard.enforcement.provider.repository import ProviderRepository, SubscriptionSnapshot

log = structlog.get_logger()

RECONCILER = "system:reconciler"
_CONCURRENCY = 8


async def reconcile(db: Database, adapter: VendorAdapter, now: datetime, *, limit: int) -> int:
    """Compare every subscription with the vendor, ``limit`` per page; record the vendor's
    status where it drifted (audited) and restart given-up operations. The drifts found."""
    if limit < 1:
        raise ValueError("limit must be positive")
    gate = asyncio.Semaphore(_CONCURRENCY)
    after: uuid.UUID | None = None
    drifted = 0
    while True:
        async with db.sweep_session() as session:
            page = await ProviderRepository(session).subscriptions_page(after, limit)

        async def check(snapshot: SubscriptionSnapshot) -> bool:
            async with gate:
                actual = await _ask_vendor(adapter, snapshot)
            if actual is None:
                return False
            async with db.sweep_session() as session:
                return await _apply(session, snapshot, actual, now)

        found = await asyncio.gather(*(check(snapshot) for snapshot in page))
        drifted += sum(found)
        if len(page) < limit:
            break
        after = page[-1].key
    log.info("provider.reconciled", drifted=drifted)
    return drifted


async def _ask_vendor(
    adapter: VendorAdapter, snapshot: SubscriptionSnapshot
) -> VendorSubscription | None:
    tenant = snapshot.vendor_tenant_id or snapshot.customer_id
    try:
        return await adapter.get_subscription(tenant, snapshot.subscription_id)
    except AdapterError as exc:
        # Unreachable now, or unknown to the vendor: nothing to conclude; the next round asks again.
        log.warning(
            "provider.reconcile_unanswered",
            subscription_id=str(snapshot.subscription_id),
            error=str(exc)[:300],
        )
        return None


async def _apply(
    session: AsyncSession, snapshot: SubscriptionSnapshot, actual: VendorSubscription, now: datetime
) -> bool:
    repository = ProviderRepository(session)
    subscription = await repository.lock_subscription(snapshot.key)
    if subscription is None:
        return False  # a runner holds it: it is being changed right now
    if subscription.status != snapshot.status or subscription.etag != snapshot.etag:
        return False  # changed since we read it: the vendor's answer may be older than that
    if await repository.has_pending(subscription.partner_id, subscription.subscription_id):
        return False  # an operation is under way; its answer will be recorded
    drifted = actual.status != subscription.status
    if drifted:
        log.warning(
            "provider.drift_found",
            subscription_id=str(subscription.subscription_id),
            recorded=subscription.status,
            vendor=actual.status,
            desired=subscription.desired_status,
        )
        await audit.record(
            session,
            subscription.partner_id,
            actor=RECONCILER,
            action="subscription.drift_found",
            subject_type="subscription",
            subject_id=subscription.subscription_id,
            at=now,
            reason=f"the vendor has it {actual.status}, we had recorded {subscription.status}",
            evidence={
                "recorded_status": subscription.status,
                "vendor_status": actual.status,
                "desired_status": subscription.desired_status,
                "revision": subscription.revision,
                "etag": actual.etag,
            },
        )
        subscription.status = actual.status
    subscription.etag = actual.etag
    # After a drift the runner creates the repair itself; after a give-up only we start over.
    await plan_operation(session, subscription, now, actor=RECONCILER, restart_failed=True)
    return drifted
