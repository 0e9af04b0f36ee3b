"""How enforcement writes its events: one place for their routing fields."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.events.catalog import EventData
from partnerguard.common.outbox import emit


async def tell(
    session: AsyncSession,
    data: EventData,
    *,
    partner_id: uuid.UUID,
    subject: uuid.UUID,
    customer_id: uuid.UUID,
) -> None:
    """Write ``data`` to the outbox in the caller's transaction, about ``subject`` (the hold,
    subscription, case ... it concerns). Every event of one customer shares its aggregate key,
    so integrators receive a customer's holds, suspensions and cases in the order they happened."""
    await emit(
        session,
        data,
        partner_id=partner_id,
        subject=subject,
        customer_id=customer_id,
        aggregate_key=f"customer:{customer_id}",
    )
