"""Queries for provider operations, the runner's work lists and the reconciler's pages.

Every query here runs on the sweep role (the runner and the reconciler serve every partner),
so each one names the partner explicitly wherever it reaches a partner's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.models import Customer, Hold, ProviderOperation, Subscription

# The statuses the vendor's partner API lets us move a subscription between.
ACTIONABLE = ("active", "suspended")
PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True)
class ClaimedOperation:
    """A pending operation this runner has leased, with what the adapter call needs."""

    id: uuid.UUID
    partner_id: uuid.UUID
    customer_id: uuid.UUID
    subscription_id: uuid.UUID
    action: str
    revision: int
    request_id: uuid.UUID
    # The attempt this claim is (1-based): the lease is ours while the row still says so.
    attempts: int
    etag: str | None
    vendor_tenant_id: uuid.UUID | None


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """A subscription as the reconciler read it before asking the vendor."""

    key: uuid.UUID
    partner_id: uuid.UUID
    customer_id: uuid.UUID
    subscription_id: uuid.UUID
    status: str
    desired_status: str
    etag: str | None
    vendor_tenant_id: uuid.UUID | None


class ProviderRepository(Repository[ProviderOperation]):
    model = ProviderOperation

    # --- the runner: creating operations ------------------------------------------------------

    async def subscriptions_needing_work(self, limit: int) -> list[uuid.UUID]:
        """Keys of subscriptions (up to ``limit`` of each kind) whose wanted status differs from
        the vendor's with no operation under way for the current revision (none, or the latest
        succeeded: drift found after it), and of those with a pending operation for an older
        revision (to supersede). Each kind is read through its own partial index."""
        op = ProviderOperation
        latest_at_revision = (
            select(op.status)
            .where(
                op.partner_id == Subscription.partner_id,
                op.subscription_id == Subscription.subscription_id,
                op.revision == Subscription.revision,
            )
            .order_by(op.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        needing_change = (
            select(Subscription.id)
            .where(
                # Spelled as the drift index's predicate, so the planner uses that index.
                Subscription.desired_status.is_distinct_from(Subscription.status),
                Subscription.desired_status.in_(ACTIONABLE),
                Subscription.status.in_(ACTIONABLE),
                func.coalesce(latest_at_revision, "none").not_in((PENDING, FAILED)),
            )
            .order_by(Subscription.updated_at, Subscription.id)
            .limit(limit)
        )
        with_stale_pending = (
            select(Subscription.id)
            .join(
                op,
                and_(
                    op.partner_id == Subscription.partner_id,
                    op.subscription_id == Subscription.subscription_id,
                ),
            )
            .where(op.status == PENDING, op.revision != Subscription.revision)
            .order_by(op.next_attempt_at)
            .limit(limit)
        )
        keys = list((await self.session.execute(needing_change)).scalars())
        keys += (await self.session.execute(with_stale_pending)).scalars()
        return list(dict.fromkeys(keys))

    async def lock_subscription(self, key: uuid.UUID) -> Subscription | None:
        """The subscription as committed now, locked; None when another runner holds it."""
        statement = (
            select(Subscription)
            .where(Subscription.id == key)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_subscription_of(
        self, partner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> Subscription | None:
        """The partner's subscription, locked (waiting for a concurrent writer)."""
        statement = (
            select(Subscription)
            .where(
                Subscription.partner_id == partner_id,
                Subscription.subscription_id == subscription_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def open_operations(
        self, partner_id: uuid.UUID, subscription_id: uuid.UUID, revision: int
    ) -> Sequence[ProviderOperation]:
        """The subscription's pending operations and every operation of ``revision``, oldest
        first (ids are time-ordered)."""
        statement = (
            self.select_for_partner(partner_id)
            .where(
                ProviderOperation.subscription_id == subscription_id,
                or_(
                    ProviderOperation.status == PENDING,
                    ProviderOperation.revision == revision,
                ),
            )
            .order_by(ProviderOperation.id)
        )
        return await self.list(statement)

    # --- the runner: carrying operations out --------------------------------------------------

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[ClaimedOperation]:
        """Lease up to ``limit`` pending operations due by ``now``: each counts an attempt and is
        not due again before ``lease_until``. Rows another runner holds are skipped. One
        statement: the runner claims once per wake-up, so this is on every alert's path."""
        op = ProviderOperation
        due = (
            select(op.id)
            .where(op.status == PENDING, op.next_attempt_at <= now)
            .order_by(op.next_attempt_at, op.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        etag = (
            select(Subscription.etag)
            .where(
                Subscription.partner_id == op.partner_id,
                Subscription.subscription_id == op.subscription_id,
            )
            .scalar_subquery()
        )
        tenant = (
            select(Customer.vendor_tenant_id)
            .where(Customer.partner_id == op.partner_id, Customer.customer_id == op.customer_id)
            .scalar_subquery()
        )
        statement = (
            update(op)
            .where(op.id == due.c.id)
            .values(attempts=op.attempts + 1, next_attempt_at=lease_until)
            .returning(
                op.id,
                op.partner_id,
                op.customer_id,
                op.subscription_id,
                op.action,
                op.revision,
                op.request_id,
                op.attempts,
                etag,
                tenant,
            )
            # Core rows, not ORM objects: nothing in the session goes stale.
            .execution_options(synchronize_session=False)
        )
        rows = await self.session.execute(statement)
        return [
            ClaimedOperation(
                id=row[0],
                partner_id=row[1],
                customer_id=row[2],
                subscription_id=row[3],
                action=row[4],
                revision=row[5],
                request_id=row[6],
                attempts=row[7],
                etag=row[8],
                vendor_tenant_id=row[9],
            )
            for row in rows
        ]

    async def lock_operation(self, operation_id: uuid.UUID) -> ProviderOperation | None:
        statement = (
            select(ProviderOperation)
            .where(ProviderOperation.id == operation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def active_holds_covering(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> Sequence[Hold]:
        """Holds in force on the customer as a whole or on this one subscription, oldest first."""
        statement = (
            select(Hold)
            .where(
                Hold.partner_id == partner_id,
                Hold.customer_id == customer_id,
                Hold.status == "active",
                or_(Hold.subscription_id.is_(None), Hold.subscription_id == subscription_id),
            )
            .order_by(Hold.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    # --- the reconciler -----------------------------------------------------------------------

    async def subscriptions_page(
        self, after: uuid.UUID | None, limit: int
    ) -> list[SubscriptionSnapshot]:
        """Every partner's subscriptions in key order, ``limit`` at a time after ``after``."""
        statement = (
            select(Subscription, Customer.vendor_tenant_id)
            .outerjoin(
                Customer,
                and_(
                    Customer.partner_id == Subscription.partner_id,
                    Customer.customer_id == Subscription.customer_id,
                ),
            )
            .order_by(Subscription.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(Subscription.id > after)
        rows = (await self.session.execute(statement)).all()
        return [
            SubscriptionSnapshot(
                key=sub.id,
                partner_id=sub.partner_id,
                customer_id=sub.customer_id,
                subscription_id=sub.subscription_id,
                status=sub.status,
                desired_status=sub.desired_status,
                etag=sub.etag,
                vendor_tenant_id=tenant,
            )
            for sub, tenant in rows
        ]

    async def has_pending(self, partner_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        statement = (
            select(ProviderOperation.id)
            .where(
                ProviderOperation.partner_id == partner_id,
                ProviderOperation.subscription_id == subscription_id,
                ProviderOperation.status == PENDING,
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).first() is not None
