"""Placing and releasing holds, and the subscription status that follows (the holds work fills
these in; the signatures are what policies, approvals and cases call)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.events.types.enforcement import HoldReason
from partnerguard.enforcement.models import Hold


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError
