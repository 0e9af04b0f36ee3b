"""Queries for receivables: the aging aggregate and the accounts behind the exposure list."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, case, func, literal, select

from partnerguard.billing.models import OPEN_STATUSES, Account, Invoice, InvoiceStatus
from partnerguard.billing.receivables.aging import BUCKETS, DSO_WINDOW_DAYS, Bucket, BucketBounds
from partnerguard.common.db.repository import Repository


@dataclass(frozen=True)
class AgingSums:
    """Open balances by bucket, and the credit sales DSO measures them against."""

    buckets: dict[Bucket, int]
    open_invoices: int
    credit_sales: int

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


@dataclass(frozen=True)
class CustomerAgingRow:
    customer_id: uuid.UUID
    account_id: uuid.UUID
    currency: str
    sums: AgingSums


@dataclass(frozen=True)
class CurrencyAgingRow:
    currency: str
    customers: int
    sums: AgingSums


class AgingRepository(Repository[Invoice]):
    """One set-based aggregate over the partner's invoices, grouped by customer or currency.

    Balances are current (``total - paid - credited`` now): payments are not rewound to as_of.
    """

    model = Invoice

    def _aggregates(self, as_of: date) -> list[ColumnElement[Any]]:
        is_open = Invoice.status.in_(OPEN_STATUSES)
        balance = Invoice.total - Invoice.paid - Invoice.credited
        # date - date is a whole number of days in PostgreSQL.
        days = literal(as_of, Date) - Invoice.due_on
        window_start = as_of - timedelta(days=DSO_WINDOW_DAYS - 1)
        is_sale = and_(
            Invoice.status != InvoiceStatus.VOID.value, Invoice.issued_on >= window_start
        )
        return [
            *(
                func.sum(case((and_(is_open, _in_bucket(days, bounds)), balance), else_=0)).label(
                    bounds.bucket.value
                )
                for bounds in BUCKETS
            ),
            func.count(Invoice.id).filter(is_open).label("open_invoices"),
            func.sum(case((is_sale, Invoice.total), else_=0)).label("credit_sales"),
        ]

    def _relevant(self, partner_id: uuid.UUID, as_of: date) -> list[ColumnElement[bool]]:
        """Invoices issued by as_of that are open (aged) or sales in the DSO window."""
        window_start = as_of - timedelta(days=DSO_WINDOW_DAYS - 1)
        return [
            Invoice.partner_id == partner_id,
            Invoice.issued_on <= as_of,
            Invoice.status.in_(OPEN_STATUSES)
            | ((Invoice.status != InvoiceStatus.VOID.value) & (Invoice.issued_on >= window_start)),
        ]

    async def by_customer(
        self,
        partner_id: uuid.UUID,
        as_of: date,
        *,
        customer_id: uuid.UUID | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> list[CustomerAgingRow]:
        """Up to ``limit + 1`` customers owing anything on ``as_of``, by customer id."""
        statement = (
            select(
                Invoice.customer_id, Invoice.account_id, Invoice.currency, *self._aggregates(as_of)
            )
            .where(*self._relevant(partner_id, as_of))
            .group_by(Invoice.customer_id, Invoice.account_id, Invoice.currency)
            .having(func.count(Invoice.id).filter(Invoice.status.in_(OPEN_STATUSES)) > 0)
            .order_by(Invoice.customer_id)
            .limit(limit + 1)
        )
        if customer_id is not None:
            statement = statement.where(Invoice.customer_id == customer_id)
        if after is not None:
            statement = statement.where(Invoice.customer_id > after)
        rows = (await self.session.execute(statement)).mappings().all()
        return [
            CustomerAgingRow(row["customer_id"], row["account_id"], row["currency"], _sums(row))
            for row in rows
        ]

    async def by_currency(
        self, partner_id: uuid.UUID, as_of: date, *, customer_id: uuid.UUID | None
    ) -> list[CurrencyAgingRow]:
        """The partner's totals per currency, over every customer (or the one asked for)."""
        statement = (
            select(
                Invoice.currency,
                func.count(func.distinct(Invoice.customer_id))
                .filter(Invoice.status.in_(OPEN_STATUSES))
                .label("customers"),
                *self._aggregates(as_of),
            )
            .where(*self._relevant(partner_id, as_of))
            .group_by(Invoice.currency)
            .order_by(Invoice.currency)
        )
        if customer_id is not None:
            statement = statement.where(Invoice.customer_id == customer_id)
        rows = (await self.session.execute(statement)).mappings().all()
        return [
            CurrencyAgingRow(row["currency"], int(row["customers"]), _sums(row)) for row in rows
        ]


def _in_bucket(days: ColumnElement[Any], bounds: BucketBounds) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if bounds.min_days is not None:
        conditions.append(days >= bounds.min_days)
    if bounds.max_days is not None:
        conditions.append(days <= bounds.max_days)
    return and_(*conditions)


def _sums(row: Any) -> AgingSums:
    return AgingSums(
        buckets={bounds.bucket: int(row[bounds.bucket.value] or 0) for bounds in BUCKETS},
        open_invoices=int(row["open_invoices"] or 0),
        credit_sales=int(row["credit_sales"] or 0),
    )


class ExposureRepository(Repository[Account]):
    model = Account

    async def accounts_page(
        self,
        partner_id: uuid.UUID,
        *,
        customer_id: uuid.UUID | None,
        over_limit: bool | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Account]:
        statement = self.select_for_partner(partner_id)
        if customer_id is not None:
            statement = statement.where(Account.customer_id == customer_id)
        if over_limit is not None:
            statement = statement.where(Account.over_limit.is_(over_limit))
        if after is not None:
            statement = statement.where(Account.id > after)
        return await self.list(statement.order_by(Account.id).limit(limit + 1))
