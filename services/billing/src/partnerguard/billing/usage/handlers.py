"""Consumes monitoring's daily spend: the unbilled usage behind a customer's exposure."""

from __future__ import annotations

from partnerguard.billing.settings import BillingSettings
from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.runtime import Consumer


def monitoring_consumer(settings: BillingSettings) -> Consumer:
    """``billing-monitoring``: daily spend per customer."""
    handlers = Handlers()
    return Consumer(
        ConsumerSpec(
            durable="billing-monitoring", stream="MONITORING", subjects=handlers.subjects()
        ),
        handlers,
    )
