"""HTTP: invoices — issue, read, list, credit, void, write off, dispute."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.deps import Reader, Writer
from partnerguard.billing.invoices import service
from partnerguard.billing.invoices.schemas import (
    AllocationOut,
    CreditNoteIn,
    CreditNoteOut,
    InvoiceDetail,
    InvoiceFilters,
    InvoiceIn,
    InvoiceOut,
    LineOut,
    ReasonIn,
)
from partnerguard.billing.invoices.state import CLOSED
from partnerguard.billing.models import Allocation, CreditNote, Invoice, InvoiceStatus
from partnerguard.billing.money import money
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep

router = APIRouter(prefix="/v1/billing/invoices", tags=["invoices"], responses=PROBLEM_RESPONSES)


def summary(invoice: Invoice) -> InvoiceOut:
    closed = InvoiceStatus(invoice.status) in CLOSED
    return InvoiceOut(
        id=invoice.id,
        account_id=invoice.account_id,
        customer_id=invoice.customer_id,
        number=invoice.number,
        currency=invoice.currency,
        status=InvoiceStatus(invoice.status),
        issued_on=invoice.issued_on,
        terms_days=invoice.terms_days,
        due_on=invoice.due_on,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        memo=invoice.memo,
        total=money(invoice.total, invoice.currency),
        paid=money(invoice.paid, invoice.currency),
        credited=money(invoice.credited, invoice.currency),
        balance=money(0 if closed else invoice.balance, invoice.currency),
        written_off=money(invoice.balance, invoice.currency) if closed else None,
        disputed_at=invoice.disputed_at,
        dispute_reason=invoice.dispute_reason,
        settled_at=invoice.settled_at,
        settled_reason=invoice.settled_reason,
        created_by=invoice.created_by,
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
    )


def allocation_out(allocation: Allocation, currency: str) -> AllocationOut:
    return AllocationOut(
        id=allocation.id,
        payment_id=allocation.payment_id,
        invoice_id=allocation.invoice_id,
        amount=money(allocation.amount, currency),
        created_at=allocation.created_at,
        reversed_at=allocation.reversed_at,
    )


def credit_note_out(note: CreditNote, currency: str) -> CreditNoteOut:
    return CreditNoteOut(
        id=note.id,
        invoice_id=note.invoice_id,
        account_id=note.account_id,
        amount=money(note.amount, currency),
        reason=note.reason,
        created_by=note.created_by,
        created_at=note.created_at,
    )


async def detail(session: AsyncSession, invoice: Invoice) -> InvoiceDetail:
    parts = await service.invoice_parts(session, invoice)
    return InvoiceDetail(
        **summary(invoice).model_dump(),
        lines=[
            LineOut(
                position=line.position,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
            )
            for line in parts.lines
        ],
        allocations=[allocation_out(a, invoice.currency) for a in parts.allocations],
        credit_notes=[credit_note_out(n, invoice.currency) for n in parts.credit_notes],
    )


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "",
    status_code=201,
    response_model=InvoiceDetail,
    summary="Issue an invoice",
    description="Lines are priced quantity × unit amount, rounded half up to minor units; the "
    "invoice is due `terms_days` after `issued_on`. The currency must be the account's (422). "
    "A number the partner already used is a 409; without one, a number is generated. Any credit "
    "balance the account holds is applied at once (the invoice may be issued `paid`). Emits "
    "`billing.invoice.issued` (and `billing.invoice.settled` when credit covers it). Send an "
    "`Idempotency-Key` to retry safely.",
)
async def issue_invoice(
    body: InvoiceIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    invoice = await service.issue_invoice(
        session, caller.partner_id, body, caller.client_id, _now()
    )
    return await idem.respond(await detail(session, invoice), 201)


@router.get("", response_model=Page[InvoiceOut], summary="List invoices")
async def list_invoices(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's.")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    status: Annotated[InvoiceStatus | None, Query(description="Only in this status.")] = None,
    overdue_as_of: Annotated[
        date | None, Query(description="Only invoices still owing that fell due before this day.")
    ] = None,
) -> Page[InvoiceOut]:
    filters = InvoiceFilters(
        account_id=account_id, customer_id=customer_id, status=status, overdue_as_of=overdue_as_of
    )
    rows = await service.list_invoices(
        session, caller.partner_id, filters, limit=params.limit, after=params.after_id
    )
    return make_page([summary(row) for row in rows], params, lambda i: i.id)


@router.get("/{invoice_id}", response_model=InvoiceDetail, summary="Get an invoice")
async def get_invoice(invoice_id: uuid.UUID, caller: Reader, session: SessionDep) -> InvoiceDetail:
    invoice = await service.get_invoice(session, caller.partner_id, invoice_id)
    return await detail(session, invoice)


@router.post(
    "/{invoice_id}/credit-notes",
    status_code=201,
    response_model=CreditNoteOut,
    summary="Credit an invoice",
    description="Reduces what an open invoice owes, by at most its balance (422 beyond it, 409 "
    "on an invoice that is not open). An invoice that owes nothing afterwards is `paid`. Emits "
    "`billing.credit_note.issued`. Send an `Idempotency-Key` to retry safely.",
)
async def issue_credit_note(
    invoice_id: uuid.UUID,
    body: CreditNoteIn,
    caller: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
) -> JSONResponse:
    note, invoice = await service.issue_credit_note(
        session, caller.partner_id, invoice_id, body, caller.client_id, _now()
    )
    return await idem.respond(credit_note_out(note, invoice.currency), 201)


@router.post(
    "/{invoice_id}/void",
    response_model=InvoiceDetail,
    summary="Void an invoice",
    description="Cancels an open invoice that received no payment (409 otherwise). Emits "
    "`billing.invoice.settled` with status `void`.",
)
async def void_invoice(
    invoice_id: uuid.UUID, body: ReasonIn, caller: Writer, session: SessionDep
) -> InvoiceDetail:
    invoice = await service.void_invoice(
        session, caller.partner_id, invoice_id, body.reason, _now()
    )
    return await detail(session, invoice)


@router.post(
    "/{invoice_id}/write-off",
    response_model=InvoiceDetail,
    summary="Write an invoice off",
    description="Writes an open invoice's balance off as `uncollectible` (409 when it owes "
    "nothing). Emits `billing.invoice.settled` with status `uncollectible`.",
)
async def write_off_invoice(
    invoice_id: uuid.UUID, body: ReasonIn, caller: Writer, session: SessionDep
) -> InvoiceDetail:
    invoice = await service.write_off_invoice(
        session, caller.partner_id, invoice_id, body.reason, _now()
    )
    return await detail(session, invoice)


@router.post(
    "/{invoice_id}/dispute",
    response_model=InvoiceDetail,
    summary="Dispute an invoice",
    description="Marks an open invoice disputed: dunning skips it until the dispute is "
    "resolved. 409 when it is not open or already disputed.",
)
async def dispute_invoice(
    invoice_id: uuid.UUID, body: ReasonIn, caller: Writer, session: SessionDep
) -> InvoiceDetail:
    invoice = await service.dispute_invoice(
        session, caller.partner_id, invoice_id, body.reason, _now()
    )
    return await detail(session, invoice)


@router.post(
    "/{invoice_id}/dispute/resolve",
    response_model=InvoiceDetail,
    summary="Resolve an invoice's dispute",
    description="Dunning takes the invoice up again. 409 when it is not disputed.",
)
async def resolve_dispute(
    invoice_id: uuid.UUID, caller: Writer, session: SessionDep
) -> InvoiceDetail:
    invoice = await service.resolve_dispute(session, caller.partner_id, invoice_id)
    return await detail(session, invoice)
