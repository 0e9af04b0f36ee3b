"""Unbilled usage: monitoring's rated daily spend per customer, the usage part of exposure.

Each (customer, day) keeps its latest computation only. Spend is stored by customer, so usage
that arrives before the customer's account opens counts once it does.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.exposure import check_exposure
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.accounts.service import lock_account
from partnerguard.billing.money import MAX_MINOR, to_minor
from partnerguard.billing.usage.repository import DailyUsageRepository
from partnerguard.common.events.types.monitoring import DailySpend

log = structlog.get_logger()


async def record_daily_spend(
    session: AsyncSession, partner_id: uuid.UUID, spend: DailySpend, now: datetime
) -> bool:
    """Keep ``spend`` if it is the day's latest computation, then re-check the customer's
    exposure (which emits ``billing.exposure.limit_exceeded`` on a crossing); True when kept."""
    account = await AccountRepository(session).by_customer(partner_id, spend.customer_id)
    if account is not None:
        # Locked before the usage changes, as every change to an account's money is.
        account = await lock_account(session, partner_id, account.id)
    amount = to_minor(spend.cost, spend.currency)
    if abs(amount) > MAX_MINOR:
        # Monitoring's totals are wider than billing's amounts. Refusing the day would leave
        # exposure blind to the largest spend of all; kept at the most billing can hold, it
        # still crosses every limit, and monitoring keeps the exact total.
        log.warning(
            "usage.amount_saturated",
            customer_id=str(spend.customer_id),
            day=spend.day.isoformat(),
            cost=str(spend.cost),
        )
        amount = MAX_MINOR if amount > 0 else -MAX_MINOR
    kept = await DailyUsageRepository(session).upsert_latest(
        partner_id,
        spend.customer_id,
        spend.day,
        amount=amount,
        currency=spend.currency,
        computed_at=spend.computed_at,
    )
    if not kept:
        log.info(
            "usage.superseded",
            customer_id=str(spend.customer_id),
            day=spend.day.isoformat(),
            computed_at=spend.computed_at.isoformat(),
        )
        return False
    if account is None:
        return True
    if spend.currency != account.currency:
        # Stored all the same (the account's currency may be what is wrong), but exposure
        # sums only spend in the account's currency. Still re-checked below: this day may
        # have counted before, in the account's currency.
        log.warning(
            "usage.currency_mismatch",
            customer_id=str(spend.customer_id),
            account_id=str(account.id),
            day=spend.day.isoformat(),
            spend_currency=spend.currency,
            account_currency=account.currency,
        )
    await check_exposure(session, account, now)
    return True
