"""Consumes onboarding's approvals: an approved customer gets its billing account."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.service import open_from_approval
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.events.envelope import Event
from partnerguard.common.events.types.onboarding import CustomerApproved
from partnerguard.common.runtime import Consumer


def onboarding_consumer(settings: BillingSettings) -> Consumer:
    """``billing-onboarding``: accounts for approved customers, on the tier terms in ``settings``."""
    handlers = Handlers()

    @handlers.on(CustomerApproved)
    async def customer_approved(session: AsyncSession, event: Event[CustomerApproved]) -> None:
        await open_from_approval(session, event.partner_id, event.data, settings, datetime.now(UTC))

    return Consumer(
        ConsumerSpec(
            durable="billing-onboarding", stream="ONBOARDING", subjects=handlers.subjects()
        ),
        handlers,
    )
