"""How billing writes an event about an account: one place for its envelope's routing fields."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.models import Account
from partnerguard.common.events.catalog import EventData
from partnerguard.common.outbox import emit


async def tell(
    session: AsyncSession, account: Account, data: EventData, *, subject: uuid.UUID
) -> None:
    """Write ``data`` to the outbox in the caller's transaction, about ``subject`` (the invoice,
    payment, account ... it concerns). Every event of one account shares its aggregate key, so
    integrators receive an account's events in the order they happened."""
    await emit(
        session,
        data,
        partner_id=account.partner_id,
        subject=subject,
        customer_id=account.customer_id,
        aggregate_key=f"account:{account.id}",
    )
