"""The registry: customers and their subscriptions, recorded from events and from the API.

Events may arrive in any order: a hold, a control or a subscription for a customer the
registry has not heard of yet creates the customer's row, and an older approval delivered
after a newer one changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.holds.repository import HoldRepository
from partnerguard.enforcement.holds.status import Cover, HoldStatus, desired_status
from partnerguard.enforcement.models import Customer, Hold, Subscription
from partnerguard.enforcement.registry.repository import CustomerRepository, SubscriptionRepository
from partnerguard.enforcement.registry.schemas import Commerce, CustomerIn, SubscriptionIn

log = structlog.get_logger()


async def lock_customer(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> tuple[Customer, bool]:
    """The customer's registry row, created when unknown, locked until the transaction ends
    (True when created): take it before changing the customer's holds or subscriptions."""
    return await CustomerRepository(session).locked_or_new(partner_id, customer_id)


async def record_customer(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    vendor_tenant_id: uuid.UUID | None = None,
    risk_tier: str | None = None,
    approved_at: datetime | None = None,
    now: datetime,
) -> Customer:
    """Create or update the customer's row; fields given as None stay as they are, and an
    approval older than the recorded one changes nothing (the later approval wins)."""
    customer, _ = await _record_customer(
        session,
        partner_id,
        customer_id,
        vendor_tenant_id=vendor_tenant_id,
        risk_tier=risk_tier,
        approved_at=approved_at,
        now=now,
    )
    return customer


async def _record_customer(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    vendor_tenant_id: uuid.UUID | None,
    risk_tier: str | None,
    approved_at: datetime | None,
    now: datetime,
) -> tuple[Customer, bool]:
    customer, created = await lock_customer(session, partner_id, customer_id)
    stale = (
        approved_at is not None
        and customer.approved_at is not None
        and approved_at < customer.approved_at
    )
    if stale:
        log.info(
            "registry.stale_approval_ignored",
            partner_id=str(partner_id),
            customer_id=str(customer_id),
        )
        return customer, created
    if vendor_tenant_id is not None:
        customer.vendor_tenant_id = vendor_tenant_id
    if risk_tier is not None:
        customer.risk_tier = str(risk_tier)
    if approved_at is not None:
        customer.approved_at = approved_at
    await session.flush()
    return customer, created


async def set_controls(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    mfa_attested: bool | None = None,
    budget_set: bool | None = None,
    prepayment_cleared: bool | None = None,
    now: datetime,
) -> Customer:
    """Set the access gate's controls the caller knows of (None: unchanged), creating the
    customer's row when unknown."""
    customer, _ = await lock_customer(session, partner_id, customer_id)
    if mfa_attested is not None:
        customer.mfa_attested = mfa_attested
    if budget_set is not None:
        customer.budget_set = budget_set
    if prepayment_cleared is not None:
        customer.prepayment_cleared = prepayment_cleared
    await session.flush()
    return customer


async def record_subscription(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID,
    subscription_id: uuid.UUID,
    commerce: Commerce | str,
    offer: str | None = None,
    status: str = "active",
    now: datetime,
) -> Subscription:
    """Register the customer's subscription, or update its commerce and offer when known.

    A new subscription starts wanted ``suspended`` when an active hold already covers it (a
    customer hold, or a hold placed on it before it was registered). ``status`` is the vendor's
    status for a new row; a known row keeps the status the provider last confirmed.
    ``Conflict`` when the subscription is registered to another customer."""
    subscription, _ = await _record_subscription(
        session,
        partner_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        commerce=Commerce(commerce),
        offer=offer,
        status=status,
    )
    return subscription


async def _record_subscription(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID,
    subscription_id: uuid.UUID,
    commerce: Commerce,
    offer: str | None,
    status: str,
) -> tuple[Subscription, bool]:
    """The subscription, and True when it is new or changed."""
    await lock_customer(session, partner_id, customer_id)
    repository = SubscriptionRepository(session)
    subscription = await repository.by_subscription_id(partner_id, subscription_id)
    if subscription is None:
        holds = await HoldRepository(session).active_of_customer(partner_id, customer_id)
        wanted = desired_status(customer_id, subscription_id, _covers(holds))
        subscription = await repository.insert_new(
            {
                "partner_id": partner_id,
                "customer_id": customer_id,
                "subscription_id": subscription_id,
                "commerce": commerce.value,
                "offer": offer,
                "status": status,
                "desired_status": wanted.value,
                "revision": 0,
            }
        )
        if subscription is not None:
            log.info(
                "registry.subscription_recorded",
                partner_id=str(partner_id),
                customer_id=str(customer_id),
                subscription_id=str(subscription_id),
                desired_status=wanted.value,
            )
            return subscription, True
        # Registered concurrently (for another customer, or this one's lock came too late).
        subscription = await repository.by_subscription_id(partner_id, subscription_id)
        assert subscription is not None  # the insert conflicted with this very row
    if subscription.customer_id != customer_id:
        raise Conflict("the subscription is registered to another customer")
    changed = subscription.commerce != commerce.value or (
        offer is not None and subscription.offer != offer
    )
    if changed:
        subscription.commerce = commerce.value
        if offer is not None:
            subscription.offer = offer
        await session.flush()
    return subscription, changed


def _covers(holds: Sequence[Hold]) -> list[Cover]:
    return [Cover(h.customer_id, h.subscription_id, h.status == HoldStatus.ACTIVE) for h in holds]


# --- the API's use of the registry --------------------------------------------------------------


async def upsert_customer(
    session: AsyncSession, partner_id: uuid.UUID, body: CustomerIn, *, actor: str, now: datetime
) -> tuple[Customer, bool]:
    """Record a customer with its controls as the partner states them (audited); True when new."""
    customer, created = await _record_customer(
        session,
        partner_id,
        body.customer_id,
        vendor_tenant_id=body.vendor_tenant_id,
        risk_tier=body.risk_tier.value if body.risk_tier else None,
        approved_at=body.approved_at,
        now=now,
    )
    await set_controls(
        session,
        partner_id,
        body.customer_id,
        mfa_attested=body.mfa_attested,
        budget_set=body.budget_set,
        prepayment_cleared=body.prepayment_cleared,
        now=now,
    )
    await record(
        session,
        partner_id,
        actor=actor,
        action="customer.recorded",
        subject_type="customer",
        subject_id=body.customer_id,
        at=now,
        evidence=body.model_dump(mode="json", exclude_none=True),
    )
    return customer, created


async def register_subscription(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: SubscriptionIn,
    *,
    actor: str,
    now: datetime,
) -> tuple[Subscription, bool]:
    """Register a subscription of a known customer (``NotFound`` otherwise), audited when it
    is new or changed; True when new."""
    await get_customer(session, partner_id, customer_id)
    known = await SubscriptionRepository(session).by_subscription_id(
        partner_id, body.subscription_id
    )
    subscription, changed = await _record_subscription(
        session,
        partner_id,
        customer_id=customer_id,
        subscription_id=body.subscription_id,
        commerce=body.commerce,
        offer=body.offer,
        status="active",
    )
    if changed:
        await record(
            session,
            partner_id,
            actor=actor,
            action="subscription.registered" if known is None else "subscription.updated",
            subject_type="subscription",
            subject_id=body.subscription_id,
            at=now,
            evidence={
                "customer_id": str(customer_id),
                "commerce": subscription.commerce,
                "offer": subscription.offer,
                "desired_status": subscription.desired_status,
            },
        )
    return subscription, known is None


async def get_customer(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Customer:
    """The partner's customer; ``NotFound`` for none, and for another partner's."""
    customer = await CustomerRepository(session).by_customer(partner_id, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    return customer


async def subscriptions_of(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Sequence[Subscription]:
    return await SubscriptionRepository(session).of_customer(partner_id, customer_id)


async def list_customers(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    vendor_tenant_id: uuid.UUID | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Customer]:
    return await CustomerRepository(session).page(
        partner_id, vendor_tenant_id=vendor_tenant_id, limit=limit, after=after
    )


async def list_subscriptions(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None,
    status: str | None,
    desired_status: str | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Subscription]:
    return await SubscriptionRepository(session).page(
        partner_id,
        customer_id=customer_id,
        status=status,
        desired_status=desired_status,
        limit=limit,
        after=after,
    )
