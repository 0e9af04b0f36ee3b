"""HTTP: a customer's monthly budget, and its spend series."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.web.deps import SessionDep
from partnerguard.monitoring.budgets import service
from partnerguard.monitoring.budgets.policy import Month
from partnerguard.monitoring.budgets.schemas import (
    BudgetIn,
    BudgetMonthOut,
    BudgetOut,
    ForecastOut,
    Granularity,
    SpendPoint,
    SpendSeriesOut,
    ThresholdReachedOut,
)
from partnerguard.monitoring.deps import Reader, Writer
from partnerguard.monitoring.models import Budget
from partnerguard.monitoring.usage.spend import decimal_string

router = APIRouter(prefix="/v1/monitoring", tags=["budgets"], responses=PROBLEM_RESPONSES)


async def _out(session: AsyncSession, budget: Budget, month: Month, now: datetime) -> BudgetOut:
    status = await service.budget_month(session, budget, month, now)
    forecast = status.forecast
    return BudgetOut(
        id=budget.id,
        customer_id=budget.customer_id,
        amount=decimal_string(budget.amount),
        currency=budget.currency,
        thresholds=list(budget.thresholds),
        created_at=budget.created_at,
        updated_at=budget.updated_at,
        spend=BudgetMonthOut(
            month=month.key,
            spent=decimal_string(status.spent),
            percent_used=format(status.percent_used, "f"),
            thresholds_reached=[
                ThresholdReachedOut(
                    threshold=crossing.threshold,
                    reached_at=crossing.reached_at,
                    spent=decimal_string(crossing.spent),
                )
                for crossing in status.crossings
            ],
            forecast=ForecastOut(
                days_elapsed=forecast.days_elapsed,
                days_in_month=forecast.days_in_month,
                run_rate=decimal_string(forecast.run_rate),
                projected=decimal_string(forecast.projected),
                projected_over_budget=forecast.exceeds(budget.amount),
            )
            if forecast is not None
            else None,
        ),
    )


@router.put(
    "/customers/{customer_id}/budget",
    response_model=BudgetOut,
    status_code=200,
    responses={201: {"model": BudgetOut, "description": "Budget created"}},
    summary="Set a customer's monthly budget",
    description="Creates (201) or replaces (200) the customer's budget. It is checked against "
    "the current month's spend at once: a budget set below what was already spent announces "
    "the thresholds reached (`monitoring.budget.threshold_reached`) right away. Replacing the "
    "amount re-arms this month's thresholds that the spend no longer reaches under it. The "
    "currency must be that of the customer's usage, once it has any.",
)
async def put_budget(
    customer_id: uuid.UUID,
    body: BudgetIn,
    caller: Writer,
    session: SessionDep,
    response: Response,
) -> BudgetOut:
    now = datetime.now(UTC)
    budget, created = await service.set_budget(session, caller.partner_id, customer_id, body, now)
    if created:
        response.status_code = 201
    return await _out(session, budget, Month.of(now.date()), now)


@router.get(
    "/customers/{customer_id}/budget",
    response_model=BudgetOut,
    summary="A customer's budget and how it stands",
    description="The budget with the month's spend so far, percent used, thresholds reached "
    "and when, and the month-end forecast at the run rate. The current UTC month unless "
    "`month` says otherwise.",
)
async def get_budget(
    customer_id: uuid.UUID,
    caller: Reader,
    session: SessionDep,
    month: Annotated[
        str | None, Query(description="`YYYY-MM`; default the current UTC month.")
    ] = None,
) -> BudgetOut:
    now = datetime.now(UTC)
    wanted = service.parse_month(month, now)
    budget = await service.get_budget(session, caller.partner_id, customer_id)
    return await _out(session, budget, wanted, now)


@router.delete(
    "/customers/{customer_id}/budget",
    status_code=204,
    summary="Remove a customer's budget",
    description="Its record of thresholds reached goes with it; alerts already raised stay.",
)
async def delete_budget(customer_id: uuid.UUID, caller: Writer, session: SessionDep) -> Response:
    await service.delete_budget(session, caller.partner_id, customer_id)
    return Response(status_code=204)


@router.get(
    "/customers/{customer_id}/spend",
    response_model=SpendSeriesOut,
    summary="A customer's spend series",
    description="Spend per UTC hour, day or month over the days `from` through `to` (both "
    "included), from the usage aggregates. Only periods with spend are listed. A month's "
    "point counts only the days inside the range. At most 31 days of hours, 400 days of days "
    "or 60 months.",
)
async def get_spend(
    customer_id: uuid.UUID,
    caller: Reader,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from", description="First day (UTC), `YYYY-MM-DD`.")],
    to: Annotated[date, Query(description="Last day (UTC), included.")],
    granularity: Granularity = Granularity.DAY,
    subscription_id: Annotated[uuid.UUID | None, Query(description="Only this one.")] = None,
    meter_category: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only this one.")
    ] = None,
) -> SpendSeriesOut:
    rows = await service.spend_series(
        session,
        caller.partner_id,
        customer_id,
        granularity=granularity,
        first=from_,
        last=to,
        subscription_id=subscription_id,
        meter_category=meter_category,
    )
    return SpendSeriesOut(
        customer_id=customer_id,
        granularity=granularity,
        from_=from_,
        to=to,
        points=[
            SpendPoint(
                start=row.start,
                cost=decimal_string(row.cost),
                currency=row.currency,
                record_count=row.record_count,
            )
            for row in rows
        ],
    )
