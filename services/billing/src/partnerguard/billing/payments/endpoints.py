"""HTTP: payments — record, post, reverse, read, list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.deps import Reader, SettingsDep, Writer
from partnerguard.billing.invoices.endpoints import allocation_out
from partnerguard.billing.models import Payment, PaymentStatus
from partnerguard.billing.money import money
from partnerguard.billing.payments import service
from partnerguard.billing.payments.schemas import PaymentDetail, PaymentIn, PaymentOut, ReversalIn
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.billing import InstrumentType, ReversalReason
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep

router = APIRouter(prefix="/v1/billing/payments", tags=["payments"], responses=PROBLEM_RESPONSES)


def summary(payment: Payment) -> PaymentOut:
    posted = payment.status == PaymentStatus.POSTED.value
    return PaymentOut(
        id=payment.id,
        account_id=payment.account_id,
        customer_id=payment.customer_id,
        amount=money(payment.amount, payment.currency),
        method=InstrumentType(payment.method),
        reference=payment.reference,
        invoice_ids=list(payment.invoice_hints),
        status=PaymentStatus(payment.status),
        reported_at=payment.reported_at,
        expected_by=payment.expected_by,
        posted_at=payment.posted_at,
        allocated=money(payment.allocated, payment.currency),
        unallocated=money(payment.amount - payment.allocated if posted else 0, payment.currency),
        reversed_at=payment.reversed_at,
        reversal_reason=ReversalReason(payment.reversal_reason)
        if payment.reversal_reason
        else None,
        reversal_detail=payment.reversal_detail,
        recorded_by=payment.recorded_by,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )


async def detail(session: AsyncSession, payment: Payment) -> PaymentDetail:
    allocations = await service.payment_allocations(session, payment)
    return PaymentDetail(
        **summary(payment).model_dump(),
        allocations=[allocation_out(a, payment.currency) for a in allocations],
    )


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "",
    status_code=201,
    response_model=PaymentDetail,
    summary="Record a payment",
    description="`reported` (the default): the customer says it paid; the payment may take "
    "the configured number of business days of the account's country to post (`expected_by`), "
    "and dunning of the account pauses until then. `posted`: the money is on the account and is "
    "applied at once, oldest invoice first; what is left is credit balance. The currency must "
    "be the account's (422). Emits `billing.payment.reported` or `billing.payment.posted`. "
    "Send an `Idempotency-Key` to retry safely.",
)
async def record_payment(
    body: PaymentIn,
    caller: Writer,
    session: SessionDep,
    settings: SettingsDep,
    idem: IdempotencyDep,
) -> JSONResponse:
    payment = await service.record_payment(
        session, caller.partner_id, body, settings, caller.client_id, _now()
    )
    return await idem.respond(await detail(session, payment), 201)


@router.get("", response_model=Page[PaymentOut], summary="List payments")
async def list_payments(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's.")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    status: Annotated[PaymentStatus | None, Query(description="Only in this status.")] = None,
) -> Page[PaymentOut]:
    rows = await service.list_payments(
        session,
        caller.partner_id,
        account_id=account_id,
        customer_id=customer_id,
        status=status,
        limit=params.limit,
        after=params.after_id,
    )
    return make_page([summary(row) for row in rows], params, lambda p: p.id)


@router.get("/{payment_id}", response_model=PaymentDetail, summary="Get a payment")
async def get_payment(payment_id: uuid.UUID, caller: Reader, session: SessionDep) -> PaymentDetail:
    payment = await service.get_payment(session, caller.partner_id, payment_id)
    return await detail(session, payment)


@router.post(
    "/{payment_id}/post",
    response_model=PaymentDetail,
    summary="Post a reported payment",
    description="The money arrived: it is applied oldest invoice first and the rest is credit "
    "balance. May clear the account's prepayment gate and end its delinquency. 409 unless the "
    "payment is `reported`. Emits `billing.payment.posted`.",
)
async def post_payment(payment_id: uuid.UUID, caller: Writer, session: SessionDep) -> PaymentDetail:
    payment = await service.post_payment(session, caller.partner_id, payment_id, _now())
    return await detail(session, payment)


@router.post(
    "/{payment_id}/reverse",
    response_model=PaymentDetail,
    summary="Reverse a payment",
    description="`reversal` (the bank returned it) or `chargeback` (the cardholder disputed it, "
    "a fraud signal). A posted payment's allocations end and the invoices it paid reopen; a "
    "reported payment that never arrived is ended (reason `reversal` only) so dunning resumes. "
    "409 when already reversed. Emits `billing.payment.reversed`.",
)
async def reverse_payment(
    payment_id: uuid.UUID, body: ReversalIn, caller: Writer, session: SessionDep
) -> PaymentDetail:
    payment = await service.reverse_payment(session, caller.partner_id, payment_id, body, _now())
    return await detail(session, payment)
