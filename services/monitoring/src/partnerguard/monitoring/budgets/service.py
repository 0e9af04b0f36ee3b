"""Budgets: set, read, remove; how one stands in a month; a customer's spend series."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import NotFound, Unprocessable
from partnerguard.monitoring.budgets.evaluation import evaluate_budget, month_to_date
from partnerguard.monitoring.budgets.policy import (
    Forecast,
    Month,
    days_spanned,
    forecast_for,
    months_spanned,
    percent_used,
    threshold_reached,
)
from partnerguard.monitoring.budgets.repository import BudgetRepository, SpendRepository, SpendRow
from partnerguard.monitoring.budgets.schemas import BudgetIn, Granularity
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.models import Budget, BudgetCrossing

log = structlog.get_logger()

# The longest series each granularity answers: a month of hours, a bit over a year of days,
# five years of months.
MAX_HOURLY_DAYS = 31
MAX_DAILY_DAYS = 400
MAX_MONTHS = 60


async def set_budget(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: BudgetIn,
    now: datetime,
) -> tuple[Budget, bool]:
    """Create or replace the customer's budget and check it against this month's spend at
    once; the budget and whether it is new. ``Unprocessable`` when the customer's usage is in
    another currency."""
    customer = await CustomerRepository(session).ensure(partner_id, customer_id)
    if customer.currency is not None and customer.currency != body.currency:
        raise Unprocessable(
            f"the customer's usage is in {customer.currency}; its budget must be too"
        )
    budgets = BudgetRepository(session)
    before = await budgets.by_customer(partner_id, customer_id)
    old_terms = (before.amount, before.currency) if before is not None else None
    budget, created = await budgets.upsert(
        partner_id,
        customer_id,
        amount=body.amount,
        currency=body.currency,
        thresholds=body.thresholds,
    )
    month = Month.of(now.date())
    if old_terms is not None and old_terms != (budget.amount, budget.currency):
        await _rearm_thresholds(session, budget, month)
    await evaluate_budget(session, partner_id, customer_id, now.date(), now)
    log.info(
        "budget.saved",
        budget_id=str(budget.id),
        customer_id=str(customer_id),
        created=created,
    )
    return budget, created


async def _rearm_thresholds(session: AsyncSession, budget: Budget, month: Month) -> None:
    """A new amount moves every threshold: this month's crossings the spend no longer reaches
    under it are forgotten, so each alerts when reached against the new amount. Crossings still
    reached stay (no second announcement); earlier months keep their history."""
    budgets = BudgetRepository(session)
    totals = await month_to_date(session, budget, month)
    stale = [
        crossing.threshold
        for crossing in await budgets.crossings(budget, month.key)
        if not threshold_reached(totals.spent, budget.amount, crossing.threshold)
    ]
    await budgets.forget_crossings(budget, month.key, stale)


async def get_budget(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Budget:
    budget = await BudgetRepository(session).by_customer(partner_id, customer_id)
    if budget is None:
        raise NotFound("the customer has no budget")
    return budget


async def delete_budget(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    """Remove the customer's budget and its record of thresholds reached."""
    budget = await get_budget(session, partner_id, customer_id)
    await BudgetRepository(session).remove(budget)
    log.info("budget.deleted", budget_id=str(budget.id), customer_id=str(customer_id))


def parse_month(text: str | None, now: datetime) -> Month:
    """The month asked for (``YYYY-MM``), else the current UTC month."""
    if text is None:
        return Month.of(now.date())
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc


@dataclass(frozen=True)
class BudgetMonth:
    """How a budget stands in one month."""

    month: Month
    spent: Decimal
    percent_used: Decimal
    crossings: list[BudgetCrossing]
    forecast: Forecast | None


async def budget_month(
    session: AsyncSession, budget: Budget, month: Month, now: datetime
) -> BudgetMonth:
    totals = await month_to_date(session, budget, month)
    crossings = await BudgetRepository(session).crossings(budget, month.key)
    return BudgetMonth(
        month=month,
        spent=totals.spent,
        percent_used=percent_used(totals.spent, budget.amount),
        crossings=list(crossings),
        forecast=forecast_for(month, totals.spent, now.date(), totals.latest_day),
    )


def check_series_range(granularity: Granularity, first: date, last: date) -> None:
    """``Unprocessable`` for a reversed range or one longer than the granularity allows."""
    if first > last:
        raise Unprocessable("`from` must not be after `to`")
    if granularity is Granularity.HOUR and days_spanned(first, last) > MAX_HOURLY_DAYS:
        raise Unprocessable(f"an hourly series spans at most {MAX_HOURLY_DAYS} days")
    if granularity is Granularity.DAY and days_spanned(first, last) > MAX_DAILY_DAYS:
        raise Unprocessable(f"a daily series spans at most {MAX_DAILY_DAYS} days")
    if granularity is Granularity.MONTH and months_spanned(first, last) > MAX_MONTHS:
        raise Unprocessable(f"a monthly series spans at most {MAX_MONTHS} months")


async def spend_series(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    granularity: Granularity,
    first: date,
    last: date,
    subscription_id: uuid.UUID | None = None,
    meter_category: str | None = None,
) -> list[SpendRow]:
    """The customer's spend per period over the days ``first`` through ``last`` (periods with
    spend only). ``NotFound`` for a customer this partner has neither registered nor metered."""
    check_series_range(granularity, first, last)
    spend = SpendRepository(session)
    if await CustomerRepository(session).by_customer(
        partner_id, customer_id
    ) is None and not await spend.has_usage(partner_id, customer_id):
        raise NotFound("no such customer")
    if granularity is Granularity.HOUR:
        return await spend.hourly(
            partner_id,
            customer_id,
            first,
            last,
            subscription_id=subscription_id,
            meter_category=meter_category,
        )
    return await spend.daily(
        partner_id,
        customer_id,
        first,
        last,
        by_month=granularity is Granularity.MONTH,
        subscription_id=subscription_id,
        meter_category=meter_category,
    )
