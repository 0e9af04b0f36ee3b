"""Placing and releasing holds, and the subscription status that follows.

Every change of a customer's holds first locks the customer's registry row, so concurrent
holds of one customer are serialised; then the desired status of the customer's subscriptions
is recomputed by the one rule in :mod:`partnerguard.enforcement.holds.status`, and every
subscription whose desired status changes gets a new revision for the provider work to act on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.enforcement import (
    HoldPlaced,
    HoldReason,
    HoldReleased,
    HoldTarget,
)
from partnerguard.common.ids import new_id
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.events import tell
from partnerguard.enforcement.holds.repository import HoldRepository
from partnerguard.enforcement.holds.status import Cover, DesiredStatus, HoldStatus, Wanted, changes
from partnerguard.enforcement.models import Hold, Subscription
from partnerguard.enforcement.provider.operations import plan_operation
from partnerguard.enforcement.registry.repository import SubscriptionRepository
from partnerguard.enforcement.registry.service import lock_customer

log = structlog.get_logger()


async def place_hold(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID,
    subscription_id: uuid.UUID | None,
    reason: HoldReason,
    actor: str,
    now: datetime,
    source_event_id: uuid.UUID | None = None,
    note: str | None = None,
) -> tuple[Hold, bool]:
    """Place a hold (or return the active one of the same target and reason); True when new.

    A new hold emits ``enforcement.hold.placed``, is audited, and sets the desired status of
    every subscription it covers to ``suspended``."""
    # Creates the registry row for a customer not heard of yet: events arrive in any order.
    await lock_customer(session, partner_id, customer_id)
    # Stable from here: changing a customer's subscriptions takes the lock just taken.
    subscriptions = await SubscriptionRepository(session).of_customer(partner_id, customer_id)
    if subscription_id is not None and all(
        s.subscription_id != subscription_id for s in subscriptions
    ):
        known = await SubscriptionRepository(session).by_subscription_id(
            partner_id, subscription_id
        )
        if known is not None:
            raise Unprocessable("the subscription belongs to another customer")
    repository = HoldRepository(session)
    hold = await repository.insert_active(
        {
            "id": new_id(),
            "partner_id": partner_id,
            "customer_id": customer_id,
            "subscription_id": subscription_id,
            "reason": reason.value,
            "placed_by": actor,
            "placed_at": now,
            "source_event_id": source_event_id,
            "note": note,
        }
    )
    if hold is None:
        existing = await repository.active_for(
            partner_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            reason=reason.value,
        )
        if existing is None:  # cannot happen while the customer's row is locked
            raise Conflict("the hold changed concurrently; try again")
        return existing, False
    changed = await _recompute(session, partner_id, customer_id, subscriptions)
    await tell(
        session,
        HoldPlaced(
            hold_id=hold.id,
            target_type=_target(hold),
            customer_id=customer_id,
            subscription_id=subscription_id,
            reason=reason,
            placed_by=actor,
            source_event_id=source_event_id,
            note=note,
            placed_at=now,
        ),
        partner_id=partner_id,
        subject=hold.id,
        customer_id=customer_id,
    )
    await record(
        session,
        partner_id,
        actor=actor,
        action="hold.placed",
        subject_type="hold",
        subject_id=hold.id,
        at=now,
        reason=note,
        evidence={
            "customer_id": str(customer_id),
            "subscription_id": str(subscription_id) if subscription_id else None,
            "reason": reason.value,
            "source_event_id": str(source_event_id) if source_event_id else None,
            "desired_status_changed": _statuses(changed),
        },
    )
    await _plan(session, changed, now)
    log.info(
        "hold.placed",
        partner_id=str(partner_id),
        hold_id=str(hold.id),
        customer_id=str(customer_id),
        reason=reason.value,
        suspended=len(changed),
    )
    return hold, True


async def release_hold(
    session: AsyncSession,
    partner_id: uuid.UUID,
    hold_id: uuid.UUID,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Hold:
    """Release one active hold (NotFound / Conflict otherwise); emits
    ``enforcement.hold.released``, is audited, and reinstates (desired ``active``) every
    covered subscription that no other active hold covers."""
    repository = HoldRepository(session)
    found = await repository.get(partner_id, hold_id)
    if found is None:
        raise NotFound("no such hold")
    await lock_customer(session, partner_id, found.customer_id)
    # Read again under the customer's lock: a concurrent release may have come first.
    hold = await repository.locked(partner_id, hold_id)
    if hold is None:
        raise NotFound("no such hold")
    if hold.status != HoldStatus.ACTIVE:
        raise Conflict("the hold is already released")
    await _release(session, partner_id, [hold], actor=actor, now=now, note=note)
    return hold


async def release_holds_for(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID,
    reason: HoldReason,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> list[Hold]:
    """Release every active hold of ``reason`` on the customer and its subscriptions (a payment
    brought current releases nonpayment holds, never others); the holds released."""
    await lock_customer(session, partner_id, customer_id)
    holds = list(
        await HoldRepository(session).active_of_reason(partner_id, customer_id, reason.value)
    )
    if holds:
        await _release(session, partner_id, holds, actor=actor, now=now, note=note)
    return holds


async def get_hold(session: AsyncSession, partner_id: uuid.UUID, hold_id: uuid.UUID) -> Hold:
    """The partner's hold; ``NotFound`` for none, and for another partner's."""
    hold = await HoldRepository(session).get(partner_id, hold_id)
    if hold is None:
        raise NotFound("no such hold")
    return hold


async def list_holds(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None = None,
    subscription_id: uuid.UUID | None = None,
    reason: HoldReason | None = None,
    status: HoldStatus | None = None,
    limit: int,
    before: uuid.UUID | None = None,
) -> Sequence[Hold]:
    """Up to ``limit + 1`` holds, newest first, after the cursor's ``before``."""
    return await HoldRepository(session).page(
        partner_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        reason=reason.value if reason else None,
        status=status.value if status else None,
        limit=limit,
        before=before,
    )


async def active_holds_of(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Sequence[Hold]:
    """The holds in force on the customer and its subscriptions, oldest first."""
    return await HoldRepository(session).active_of_customer(partner_id, customer_id)


async def _release(
    session: AsyncSession,
    partner_id: uuid.UUID,
    holds: Sequence[Hold],
    *,
    actor: str,
    now: datetime,
    note: str | None,
) -> None:
    """Release ``holds`` (active, of one customer whose row the caller has locked), then
    recompute, tell and audit."""
    customer_id = holds[0].customer_id
    for hold in holds:
        hold.status = HoldStatus.RELEASED.value
        hold.released_by = actor
        hold.released_at = now
        hold.release_note = note
    await session.flush()
    changed = await _recompute(session, partner_id, customer_id)
    still = await HoldRepository(session).active_of_customer(partner_id, customer_id)
    for hold in holds:
        remaining = sum(1 for other in still if _covers_target(other, hold))
        await tell(
            session,
            HoldReleased(
                hold_id=hold.id,
                target_type=_target(hold),
                customer_id=customer_id,
                subscription_id=hold.subscription_id,
                reason=HoldReason(hold.reason),
                released_by=actor,
                active_holds_remaining=remaining,
                note=note,
                released_at=now,
            ),
            partner_id=partner_id,
            subject=hold.id,
            customer_id=customer_id,
        )
        await record(
            session,
            partner_id,
            actor=actor,
            action="hold.released",
            subject_type="hold",
            subject_id=hold.id,
            at=now,
            reason=note,
            evidence={
                "customer_id": str(customer_id),
                "subscription_id": str(hold.subscription_id) if hold.subscription_id else None,
                "reason": hold.reason,
                "active_holds_remaining": remaining,
                "desired_status_changed": _statuses(changed),
            },
        )
        log.info(
            "hold.released",
            partner_id=str(partner_id),
            hold_id=str(hold.id),
            customer_id=str(customer_id),
            reason=hold.reason,
            remaining=remaining,
        )
    await _plan(session, changed, now)


async def _recompute(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    rows: Sequence[Subscription] | None = None,
) -> Sequence[Subscription]:
    """Bring the desired status of the customer's subscriptions (``rows`` when the caller has
    read them under the customer's lock) in line with its active holds (one read of each, one
    update per new status); the subscriptions changed, as they now are (locked by the update)."""
    subscriptions = SubscriptionRepository(session)
    if rows is None:
        rows = await subscriptions.of_customer(partner_id, customer_id)
    if not rows:
        return []
    holds = await HoldRepository(session).active_of_customer(partner_id, customer_id)
    wanted = changes(
        [Wanted(s.id, s.customer_id, s.subscription_id, s.desired_status) for s in rows],
        [Cover(h.customer_id, h.subscription_id, h.status == HoldStatus.ACTIVE) for h in holds],
    )
    changed: list[Subscription] = []
    for status in DesiredStatus:
        changed += await subscriptions.want(
            partner_id, [key for key, to in wanted.items() if to is status], status.value
        )
    return changed


def _statuses(changed: Sequence[Subscription]) -> dict[str, str]:
    """The vendor subscription ids changed, and to what (the audit's evidence)."""
    return {str(s.subscription_id): s.desired_status for s in changed}


async def _plan(session: AsyncSession, changed: Sequence[Subscription], now: datetime) -> None:
    """Plan the vendor change of each changed subscription in this transaction, so the runner
    finds it due as soon as the change commits (its own planning is the backstop)."""
    for subscription in changed:
        await plan_operation(session, subscription, now)


def _target(hold: Hold) -> HoldTarget:
    return HoldTarget.CUSTOMER if hold.subscription_id is None else HoldTarget.SUBSCRIPTION


def _covers_target(other: Hold, released: Hold) -> bool:
    """Whether the active hold ``other`` still covers what ``released`` covered: a customer
    target is covered by customer holds, a subscription by its own holds and customer holds."""
    if other.subscription_id is None:
        return True
    return (
        released.subscription_id is not None and other.subscription_id == released.subscription_id
    )
