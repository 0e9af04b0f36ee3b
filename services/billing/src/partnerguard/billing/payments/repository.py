"""Queries for payments and their allocations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select

from partnerguard.billing.models import Allocation, Payment, PaymentStatus
from partnerguard.common.db.repository import Repository


class PaymentRepository(Repository[Payment]):
    model = Payment

    async def with_credit(self, account_id: uuid.UUID) -> Sequence[Payment]:
        """The account's posted payments not wholly applied yet, oldest posting first: its
        credit balance, in the order it is spent."""
        statement = (
            select(Payment)
            .where(
                Payment.account_id == account_id,
                Payment.status == PaymentStatus.POSTED.value,
                Payment.allocated < Payment.amount,
            )
            .order_by(Payment.posted_at, Payment.id)
            .execution_options(populate_existing=True)
        )
        return await self.list(statement)

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        status: PaymentStatus | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Payment]:
        conditions: list[ColumnElement[bool]] = []
        if account_id is not None:
            conditions.append(Payment.account_id == account_id)
        if customer_id is not None:
            conditions.append(Payment.customer_id == customer_id)
        if status is not None:
            conditions.append(Payment.status == status.value)
        if after is not None:
            conditions.append(Payment.id > after)
        statement = (
            self.select_for_partner(partner_id)
            .where(*conditions)
            .order_by(Payment.id)
            .limit(limit + 1)
        )
        return await self.list(statement)

    def stage_allocation(self, allocation: Allocation) -> None:
        """Add an allocation; it is written with the unit of work."""
        self.session.add(allocation)

    async def allocations(self, payment_id: uuid.UUID) -> Sequence[Allocation]:
        statement = (
            select(Allocation).where(Allocation.payment_id == payment_id).order_by(Allocation.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def live_allocations(self, payment_id: uuid.UUID) -> Sequence[Allocation]:
        """The payment's allocations a reversal has not ended yet."""
        statement = (
            select(Allocation)
            .where(Allocation.payment_id == payment_id, Allocation.reversed_at.is_(None))
            .order_by(Allocation.id)
        )
        return (await self.session.execute(statement)).scalars().all()
