"""``monitoring.spend.daily``: a customer's total for a UTC day, each time it changes.

Billing keeps the latest computation per customer and day (by ``computed_at``), which is the
day's ``changed_at`` here: strictly increasing per day, so a late delivery of an older total
never overwrites a newer one.
"""

from __future__ import annotations

from decimal import Context, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.events.types.monitoring import DailySpend
from partnerguard.common.outbox import emit
from partnerguard.monitoring.models import CustomerDay

_PLACES = Decimal("0.00000001")
# Totals reach 10^24 (five years of the largest days; see TOTAL in models.py): with 8 places
# that is more digits than the default context's 28, which quantize and normalize refuse or round.
_WIDE = Context(prec=60)


def decimal_string(value: Decimal) -> str:
    """A cost as the catalog spells it: plain digits, at most 8 places, no exponent."""
    text = format(value.quantize(_PLACES, context=_WIDE).normalize(_WIDE), "f")
    return text


async def publish_daily_spend(session: AsyncSession, day: CustomerDay) -> None:
    await emit(
        session,
        DailySpend(
            customer_id=day.customer_id,
            day=day.day,
            cost=decimal_string(day.cost),
            currency=day.currency,
            record_count=day.record_count,
            computed_at=day.changed_at,
        ),
        partner_id=day.partner_id,
        subject=day.customer_id,
        customer_id=day.customer_id,
        # One customer's days in order: a consumer sees a day's totals oldest first.
        aggregate_key=f"customer:{day.customer_id}",
    )
