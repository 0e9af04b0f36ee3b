"""Queries for accounts, and the account-wide sums the gate, standing and exposure need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.billing.models import (
    OPEN_STATUSES,
    Account,
    DailyUsage,
    Instrument,
    Invoice,
    Payment,
    PaymentStatus,
)
from partnerguard.common.db.repository import Repository


class AccountRepository(Repository[Account]):
    model = Account

    async def insert_new(self, values: dict[str, Any]) -> Account | None:
        """Insert an account; None when the partner's customer already has one (of two
        concurrent opens exactly one succeeds, and the transaction stays usable)."""
        statement = (
            insert(Account)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "customer_id"])
            .returning(Account)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Account | None:
        statement = self.select_for_partner(partner_id).where(Account.customer_id == customer_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        customer_id: uuid.UUID | None,
        cleared: bool | None,
        delinquent: bool | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Account]:
        statement = self.select_for_partner(partner_id)
        if customer_id is not None:
            statement = statement.where(Account.customer_id == customer_id)
        if cleared is not None:
            statement = statement.where(
                Account.cleared_at.is_not(None) if cleared else Account.cleared_at.is_(None)
            )
        if delinquent is not None:
            statement = statement.where(
                Account.delinquent_since.is_not(None)
                if delinquent
                else Account.delinquent_since.is_(None)
            )
        if after is not None:
            statement = statement.where(Account.id > after)
        return await self.list(statement.order_by(Account.id).limit(limit + 1))

    async def accepted_instrument_class(self, account_id: uuid.UUID) -> str | None:
        """The class of the account's newest accepted instrument, if it has one."""
        statement = (
            select(Instrument.instrument_class)
            .where(Instrument.account_id == account_id, Instrument.status == "accepted")
            .order_by(Instrument.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def money_held(
        self, account_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, int]]:
        """Per account: (posted payments in total, of which not yet allocated = credit balance)."""
        statement = (
            select(
                Payment.account_id,
                func.coalesce(func.sum(Payment.amount), 0),
                func.coalesce(func.sum(Payment.amount - Payment.allocated), 0),
            )
            .where(
                Payment.account_id.in_(account_ids),
                Payment.status == PaymentStatus.POSTED.value,
            )
            .group_by(Payment.account_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    async def oldest_overdue_due_on(self, account_id: uuid.UUID, today: date) -> date | None:
        """Due date of the account's oldest invoice still owing money after its due date."""
        statement = select(func.min(Invoice.due_on)).where(
            Invoice.account_id == account_id,
            Invoice.status.in_(OPEN_STATUSES),
            Invoice.due_on < today,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def open_receivables(self, account_id: uuid.UUID) -> int:
        statement = select(
            func.coalesce(func.sum(Invoice.total - Invoice.paid - Invoice.credited), 0)
        ).where(Invoice.account_id == account_id, Invoice.status.in_(OPEN_STATUSES))
        return int((await self.session.execute(statement)).scalar_one())

    async def unbilled_usage(self, account: Account) -> int:
        """Spend after the last day any invoice billed (all spend if none did), in the
        account's currency."""
        billed_until = (
            select(func.max(Invoice.period_end))
            .where(Invoice.account_id == account.id, Invoice.status != "void")
            .scalar_subquery()
        )
        statement = select(func.coalesce(func.sum(DailyUsage.amount), 0)).where(
            DailyUsage.partner_id == account.partner_id,
            DailyUsage.customer_id == account.customer_id,
            DailyUsage.currency == account.currency,
            (billed_until.is_(None)) | (DailyUsage.day > billed_until),
        )
        return int((await self.session.execute(statement)).scalar_one())
