"""Queries for invoices, their lines, credit notes and the allocations made to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.billing.invoices.schemas import InvoiceFilters
from partnerguard.billing.models import OPEN_STATUSES, Allocation, CreditNote, Invoice, InvoiceLine
from partnerguard.common.db.repository import Repository


class InvoiceRepository(Repository[Invoice]):
    model = Invoice

    async def insert_new(self, values: dict[str, Any]) -> Invoice | None:
        """Insert an invoice; None when the partner already used its number (of two concurrent
        issues with one number exactly one succeeds, and the transaction stays usable)."""
        statement = (
            insert(Invoice)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "number"])
            .returning(Invoice)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def fresh(self, partner_id: uuid.UUID, id_: uuid.UUID) -> Invoice | None:
        """The invoice as committed now (callers hold the account lock, which serialises
        changes to an account's invoices)."""
        statement = (
            self.select_for_partner(partner_id)
            .where(Invoice.id == id_)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def open_for_account(self, account_id: uuid.UUID) -> Sequence[Invoice]:
        """The account's invoices that still owe money, oldest due first (then issue date, id):
        the order payments are applied in."""
        statement = (
            select(Invoice)
            .where(Invoice.account_id == account_id, Invoice.status.in_(OPEN_STATUSES))
            .order_by(Invoice.due_on, Invoice.issued_on, Invoice.id)
            .execution_options(populate_existing=True)
        )
        return await self.list(statement)

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[Invoice]:
        statement = (
            select(Invoice).where(Invoice.id.in_(ids)).execution_options(populate_existing=True)
        )
        return await self.list(statement)

    async def count_of_account(self, account_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> int:
        """How many of ``ids`` are invoices of the account."""
        statement = select(func.count()).where(
            Invoice.account_id == account_id, Invoice.id.in_(ids)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def page(
        self,
        partner_id: uuid.UUID,
        filters: InvoiceFilters,
        *,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Invoice]:
        conditions: list[ColumnElement[bool]] = []
        if filters.account_id is not None:
            conditions.append(Invoice.account_id == filters.account_id)
        if filters.customer_id is not None:
            conditions.append(Invoice.customer_id == filters.customer_id)
        if filters.status is not None:
            conditions.append(Invoice.status == filters.status.value)
        if filters.overdue_as_of is not None:
            conditions.append(Invoice.due_on < filters.overdue_as_of)
            conditions.append(Invoice.status.in_(OPEN_STATUSES))
        if after is not None:
            conditions.append(Invoice.id > after)
        statement = (
            self.select_for_partner(partner_id)
            .where(*conditions)
            .order_by(Invoice.id)
            .limit(limit + 1)
        )
        return await self.list(statement)

    def stage_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Add an invoice's lines; they are written with the unit of work."""
        self.session.add_all(lines)

    def stage_credit_note(self, note: CreditNote) -> None:
        self.session.add(note)

    async def lines(self, invoice_id: uuid.UUID) -> Sequence[InvoiceLine]:
        statement = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def credit_notes(self, invoice_id: uuid.UUID) -> Sequence[CreditNote]:
        statement = (
            select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def allocations(self, invoice_id: uuid.UUID) -> Sequence[Allocation]:
        statement = (
            select(Allocation).where(Allocation.invoice_id == invoice_id).order_by(Allocation.id)
        )
        return (await self.session.execute(statement)).scalars().all()
