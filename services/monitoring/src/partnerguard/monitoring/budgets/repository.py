"""Queries for budgets, their crossings and the spend aggregates they read."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Result,
    Select,
    cast,
    delete,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.monitoring.models import (
    Budget,
    BudgetCrossing,
    CustomerDay,
    UsageHourly,
)


class BudgetRepository(Repository[Budget]):
    model = Budget

    async def by_customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Budget | None:
        return (
            await self.session.execute(
                self.select_for_partner(partner_id)
                .where(Budget.customer_id == customer_id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def upsert(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        *,
        amount: Decimal,
        currency: str,
        thresholds: list[int],
    ) -> tuple[Budget, bool]:
        """Create or replace the customer's budget (keeping its id); the budget and whether it
        is new. One statement, so two first writes at once make one budget, not an error."""
        values = insert(Budget).values(
            id=new_id(),
            partner_id=partner_id,
            customer_id=customer_id,
            amount=amount,
            currency=currency,
            thresholds=thresholds,
        )
        upserted: Result[Any] = await self.session.execute(
            values.on_conflict_do_update(
                index_elements=["partner_id", "customer_id"],
                set_={
                    "amount": values.excluded.amount,
                    "currency": values.excluded.currency,
                    "thresholds": values.excluded.thresholds,
                    "updated_at": func.now(),
                },
            ).returning(
                # A row this statement inserted (rather than updated) has no deleting xid.
                literal_column("(xmax = 0)")
            )
        )
        created = bool(upserted.scalar_one())
        budget = await self.by_customer(partner_id, customer_id)
        assert budget is not None
        return budget, created

    async def remove(self, budget: Budget) -> None:
        """Delete the budget and the thresholds it reached."""
        await self.session.execute(
            delete(BudgetCrossing).where(
                BudgetCrossing.partner_id == budget.partner_id,
                BudgetCrossing.budget_id == budget.id,
            )
        )
        await self.session.execute(
            delete(Budget).where(Budget.partner_id == budget.partner_id, Budget.id == budget.id)
        )

    async def crossings(self, budget: Budget, month: str) -> Sequence[BudgetCrossing]:
        """The thresholds the budget reached in ``month``, lowest first."""
        return (
            (
                await self.session.execute(
                    select(BudgetCrossing)
                    .where(
                        BudgetCrossing.partner_id == budget.partner_id,
                        BudgetCrossing.budget_id == budget.id,
                        BudgetCrossing.month == month,
                    )
                    .order_by(BudgetCrossing.threshold)
                )
            )
            .scalars()
            .all()
        )

    async def record_crossing(
        self, budget: Budget, month: str, threshold: int, spent: Decimal, at: datetime
    ) -> bool:
        """Record that ``threshold`` was reached in ``month``; False when it was before (also
        by a concurrent transaction, which this one waits for)."""
        statement = (
            insert(BudgetCrossing)
            .values(
                partner_id=budget.partner_id,
                budget_id=budget.id,
                month=month,
                threshold=threshold,
                spent=spent,
                reached_at=at,
            )
            .on_conflict_do_nothing(index_elements=["budget_id", "month", "threshold"])
            .returning(BudgetCrossing.threshold)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def forget_crossings(
        self, budget: Budget, month: str, thresholds: Collection[int]
    ) -> None:
        """Drop crossings of ``month`` so those thresholds may be reached (and announced) again."""
        if not thresholds:
            return
        await self.session.execute(
            delete(BudgetCrossing).where(
                BudgetCrossing.partner_id == budget.partner_id,
                BudgetCrossing.budget_id == budget.id,
                BudgetCrossing.month == month,
                BudgetCrossing.threshold.in_(list(thresholds)),
            )
        )


@dataclass(frozen=True)
class CurrencySpend:
    """A customer's spend in one currency over some days, and its latest day."""

    currency: str
    cost: Decimal
    latest_day: date


@dataclass(frozen=True)
class SpendRow:
    """One period of a spend series in one currency."""

    start: datetime | date
    currency: str
    cost: Decimal
    record_count: int


class SpendRepository(Repository[CustomerDay]):
    """Reads of the usage aggregates (customer days, and the hourly and daily ones per
    subscription and meter category): a customer's totals and series."""

    model = CustomerDay

    async def spend_between(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, first: date, last: date
    ) -> list[CurrencySpend]:
        """The customer's total per currency over the days ``first`` through ``last``."""
        rows = await self.session.execute(
            select(CustomerDay.currency, func.sum(CustomerDay.cost), func.max(CustomerDay.day))
            .where(
                CustomerDay.partner_id == partner_id,
                CustomerDay.customer_id == customer_id,
                CustomerDay.day >= first,
                CustomerDay.day <= last,
            )
            .group_by(CustomerDay.currency)
        )
        return [CurrencySpend(currency, cost, day) for currency, cost, day in rows]

    async def has_usage(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        statement = select(
            exists().where(
                CustomerDay.partner_id == partner_id, CustomerDay.customer_id == customer_id
            )
        )
        return bool((await self.session.execute(statement)).scalar_one())

    async def hourly(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        first: date,
        last: date,
        *,
        subscription_id: uuid.UUID | None,
        meter_category: str | None,
    ) -> list[SpendRow]:
        """Spend per UTC hour over the days ``first`` through ``last``."""
        statement = (
            select(
                UsageHourly.hour,
                UsageHourly.currency,
                func.sum(UsageHourly.cost),
                func.sum(UsageHourly.record_count),
            )
            .where(*self._hours_of(partner_id, customer_id, first, last))
            .group_by(UsageHourly.hour, UsageHourly.currency)
            .order_by(UsageHourly.hour, UsageHourly.currency)
        )
        if subscription_id is not None:
            statement = statement.where(UsageHourly.subscription_id == subscription_id)
        if meter_category is not None:
            statement = statement.where(UsageHourly.meter_category == meter_category)
        return await self._rows(statement)

    async def daily(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        first: date,
        last: date,
        *,
        by_month: bool,
        subscription_id: uuid.UUID | None,
        meter_category: str | None,
    ) -> list[SpendRow]:
        """Spend per UTC day (or per month, counting only these days) over ``first`` through
        ``last``. The customer's day totals serve unless a subscription or meter category is
        asked for: then its hours are summed (only they know either)."""
        if subscription_id is None and meter_category is None:
            days = select(
                CustomerDay.day, CustomerDay.currency, CustomerDay.cost, CustomerDay.record_count
            ).where(
                CustomerDay.partner_id == partner_id,
                CustomerDay.customer_id == customer_id,
                CustomerDay.day >= first,
                CustomerDay.day <= last,
            )
        else:
            days = select(
                cast(func.timezone("UTC", UsageHourly.hour), Date).label("day"),
                UsageHourly.currency,
                UsageHourly.cost,
                UsageHourly.record_count,
            ).where(*self._hours_of(partner_id, customer_id, first, last))
            if subscription_id is not None:
                days = days.where(UsageHourly.subscription_id == subscription_id)
            if meter_category is not None:
                days = days.where(UsageHourly.meter_category == meter_category)
        rows = days.subquery()
        period = cast(func.date_trunc("month", rows.c.day), Date) if by_month else rows.c.day
        statement = (
            select(period, rows.c.currency, func.sum(rows.c.cost), func.sum(rows.c.record_count))
            .group_by(period, rows.c.currency)
            .order_by(period, rows.c.currency)
        )
        return await self._rows(statement)

    @staticmethod
    def _hours_of(
        partner_id: uuid.UUID, customer_id: uuid.UUID, first: date, last: date
    ) -> list[ColumnElement[bool]]:
        """The customer's hourly rows of the UTC days ``first`` through ``last``."""
        return [
            UsageHourly.partner_id == partner_id,
            UsageHourly.customer_id == customer_id,
            UsageHourly.hour >= datetime.combine(first, time(), UTC),
            UsageHourly.hour <= datetime.combine(last, time.max, UTC),
        ]

    async def _rows(self, statement: Select[*tuple[Any, ...]]) -> list[SpendRow]:
        rows = await self.session.execute(statement)
        return [
            SpendRow(start=start, currency=currency, cost=cost, record_count=int(count))
            for start, currency, cost, count in rows
        ]
