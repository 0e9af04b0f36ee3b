"""Checks a customer's month-to-date spend against its budget: each threshold reached is
announced once per month, and a run rate heading over the budget raises one forecast alert.

Called by the evaluation job for every changed customer-day (sweep role) and right after a
budget is saved (tenant session); every query filters by partner either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.events.types.monitoring import (
    AlertKind,
    BudgetThresholdReached,
    Severity,
)
from partnerguard.common.outbox import emit
from partnerguard.monitoring.alerts.raising import Finding, raise_alert
from partnerguard.monitoring.budgets.policy import (
    Forecast,
    Month,
    forecast_alerts,
    forecast_for,
    newly_reached,
)
from partnerguard.monitoring.budgets.repository import BudgetRepository, SpendRepository
from partnerguard.monitoring.models import Budget
from partnerguard.monitoring.usage.spend import decimal_string

log = structlog.get_logger()


@dataclass(frozen=True)
class MonthToDate:
    """A month's spend in the budget's currency, and the latest day that had any."""

    spent: Decimal
    latest_day: date | None


async def month_to_date(session: AsyncSession, budget: Budget, month: Month) -> MonthToDate:
    """The customer's spend in ``month`` (every day of it already known, also after the day
    being evaluated) in the budget's currency; spend in another currency is left out, loudly."""
    totals = await SpendRepository(session).spend_between(
        budget.partner_id, budget.customer_id, month.first, month.last
    )
    spent, latest = Decimal(0), None
    for total in totals:
        if total.currency != budget.currency:
            log.warning(
                "budget.spend_in_other_currency_ignored",
                customer_id=str(budget.customer_id),
                budget_id=str(budget.id),
                month=month.key,
                budget_currency=budget.currency,
                spend_currency=total.currency,
            )
            continue
        spent, latest = total.cost, total.latest_day
    return MonthToDate(spent, latest)


def _money(value: Decimal) -> Decimal:
    return Decimal(decimal_string(value))


async def evaluate_budget(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID, day: date, now: datetime
) -> None:
    """After the customer's spend on ``day`` changed: emit each threshold of that month's
    budget reached (once per threshold per month) and the month-end forecast alert."""
    budgets = BudgetRepository(session)
    budget = await budgets.by_customer(partner_id, customer_id)
    if budget is None:
        return
    month = Month.of(day)
    totals = await month_to_date(session, budget, month)
    already = {crossing.threshold for crossing in await budgets.crossings(budget, month.key)}
    for threshold in newly_reached(totals.spent, budget.amount, budget.thresholds, already):
        # The insert is the arbiter: a concurrent evaluation of the same month loses here.
        if await budgets.record_crossing(budget, month.key, threshold, totals.spent, now):
            await _announce_threshold(session, budget, month, threshold, totals.spent, now)
    forecast = forecast_for(month, totals.spent, now.date(), totals.latest_day)
    if forecast is not None and forecast_alerts(forecast, budget.amount):
        await _raise_forecast(session, budget, month, forecast, now)


async def _announce_threshold(
    session: AsyncSession,
    budget: Budget,
    month: Month,
    threshold: int,
    spent: Decimal,
    now: datetime,
) -> None:
    await emit(
        session,
        BudgetThresholdReached(
            budget_id=budget.id,
            customer_id=budget.customer_id,
            month=month.key,
            threshold_percent=threshold,
            spent=_money(spent),
            budget=_money(budget.amount),
            currency=budget.currency,
            reached_at=now,
        ),
        partner_id=budget.partner_id,
        subject=budget.customer_id,
        customer_id=budget.customer_id,
        # After the customer's daily spend events, in order.
        aggregate_key=f"customer:{budget.customer_id}",
    )
    log.info(
        "budget.threshold_reached",
        budget_id=str(budget.id),
        customer_id=str(budget.customer_id),
        month=month.key,
        threshold=threshold,
    )


async def _raise_forecast(
    session: AsyncSession, budget: Budget, month: Month, forecast: Forecast, now: datetime
) -> None:
    spent, amount = decimal_string(forecast.spent), decimal_string(budget.amount)
    projected = decimal_string(forecast.projected)
    await raise_alert(
        session,
        budget.partner_id,
        Finding(
            kind=AlertKind.BUDGET_FORECAST,
            severity=Severity.MEDIUM,
            summary=f"Spend of {spent} {budget.currency} over {forecast.days_elapsed} days of "
            f"{month.key} projects {projected} {budget.currency} by month end, above the "
            f"budget of {amount} {budget.currency}.",
            # One warning per budget and month: the run rate moving on does not repeat it.
            dedup_key=f"budget_forecast:{budget.id}:{month.key}",
            customer_id=budget.customer_id,
            evidence={
                "month": month.key,
                "currency": budget.currency,
                "spent": spent,
                "budget": amount,
                "run_rate": decimal_string(forecast.run_rate),
                "projected": projected,
                "days_elapsed": forecast.days_elapsed,
                "days_in_month": forecast.days_in_month,
            },
        ),
        now,
    )
