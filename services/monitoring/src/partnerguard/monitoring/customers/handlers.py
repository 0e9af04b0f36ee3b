"""Consumes onboarding's approvals: a customer's risk tier, tenant and approval date."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.events.envelope import Event
from partnerguard.common.events.types.onboarding import CustomerApproved
from partnerguard.common.runtime import Consumer
from partnerguard.monitoring.customers.repository import CustomerRepository


def onboarding_consumer() -> Consumer:
    """``monitoring-onboarding``: the registry behind tier expectations and tenant matching."""
    handlers = Handlers()

    @handlers.on(CustomerApproved)
    async def customer_approved(session: AsyncSession, event: Event[CustomerApproved]) -> None:
        approval = event.data
        await CustomerRepository(session).record_approval(
            event.partner_id,
            approval.customer_id,
            risk_tier=approval.risk_tier.value,
            vendor_tenant_id=approval.vendor_tenant_id,
            approved_at=approval.approved_at,
        )

    return Consumer(
        ConsumerSpec(
            durable="monitoring-onboarding", stream="ONBOARDING", subjects=handlers.subjects()
        ),
        handlers,
    )
