"""Consumes monitoring's daily spend: the unbilled usage behind a customer's exposure."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.settings import BillingSettings
from partnerguard.billing.usage.service import record_daily_spend
from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.events.envelope import Event
from partnerguard.common.events.types.monitoring import DailySpend
from partnerguard.common.runtime import Consumer


def monitoring_consumer(settings: BillingSettings) -> Consumer:
    """``billing-monitoring``: daily spend per customer."""
    handlers = Handlers()

    @handlers.on(DailySpend)
    async def daily_spend(session: AsyncSession, event: Event[DailySpend]) -> None:
        await record_daily_spend(session, event.partner_id, event.data, datetime.now(UTC))

    return Consumer(
        ConsumerSpec(
            durable="billing-monitoring", stream="MONITORING", subjects=handlers.subjects()
        ),
        handlers,
    )
