"""Payments: recorded as reported (dunning pauses while the money is on its way) or posted;
posted money is applied oldest invoice first and the rest is the account's credit balance;
a reversal or chargeback takes it all back and reopens what it had paid.

Every change takes the account's row lock first, so two payments posting to one account at once
apply one after the other and never cover the same debt twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.exposure import check_exposure
from partnerguard.billing.accounts.gate import try_clear
from partnerguard.billing.accounts.service import lock_account
from partnerguard.billing.accounts.standing import restore_if_current
from partnerguard.billing.invoices.repository import InvoiceRepository
from partnerguard.billing.invoices.service import announce_settled, apply_credit_balance
from partnerguard.billing.invoices.state import status_after
from partnerguard.billing.models import (
    Account,
    Allocation,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from partnerguard.billing.money import money
from partnerguard.billing.payments.business_days import add_business_days
from partnerguard.billing.payments.repository import PaymentRepository
from partnerguard.billing.payments.schemas import PaymentIn, RecordedAs, ReversalIn
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.billing import (
    InstrumentType,
    InvoiceReopened,
    PaymentPosted,
    PaymentReported,
    PaymentReversed,
    ReversalReason,
)
from partnerguard.common.ids import new_id

log = structlog.get_logger()


async def record_payment(
    session: AsyncSession,
    partner_id: uuid.UUID,
    body: PaymentIn,
    settings: BillingSettings,
    recorded_by: str,
    now: datetime,
) -> Payment:
    """Record a payment: a reported one is expected within the posting window (business days
    of the account's country), a posted one is applied at once. ``NotFound`` for an unknown
    account, ``Unprocessable`` for another currency or hinted invoices not the account's."""
    account = await lock_account(session, partner_id, body.account_id)
    if body.amount.currency != account.currency:
        raise Unprocessable(
            f"the payment currency {body.amount.currency} is not the account's currency "
            f"{account.currency}"
        )
    if body.invoice_ids:
        known = await InvoiceRepository(session).count_of_account(account.id, body.invoice_ids)
        if known != len(body.invoice_ids):
            raise Unprocessable("invoice_ids names invoices that are not this account's")
    payment = Payment(
        id=new_id(),
        partner_id=partner_id,
        account_id=account.id,
        customer_id=account.customer_id,
        amount=body.amount.amount,
        currency=account.currency,
        method=body.method.value,
        reference=body.reference,
        invoice_hints=list(body.invoice_ids),
        status=PaymentStatus.REPORTED.value,
        allocated=0,
        recorded_by=recorded_by,
    )
    if body.status is RecordedAs.POSTED:
        await PaymentRepository(session).add(payment)
        await _post(session, account, payment, now)
        return payment
    expected_by = add_business_days(
        _today(now), settings.payment_posting_business_days, account.country
    )
    payment.reported_at = now
    payment.expected_by = expected_by
    await PaymentRepository(session).add(payment)
    await tell(
        session,
        account,
        PaymentReported(
            payment_id=payment.id,
            account_id=account.id,
            customer_id=account.customer_id,
            invoice_ids=tuple(payment.invoice_hints),
            amount=money(payment.amount, payment.currency),
            method=body.method,
            reference=payment.reference,
            reported_at=now,
            expected_by=expected_by,
        ),
        subject=payment.id,
    )
    log.info(
        "payment.reported",
        payment_id=str(payment.id),
        account_id=str(account.id),
        partner_id=str(partner_id),
        expected_by=expected_by.isoformat(),
    )
    return payment


async def post_payment(
    session: AsyncSession, partner_id: uuid.UUID, payment_id: uuid.UUID, now: datetime
) -> Payment:
    """The reported payment arrived: apply it. ``Conflict`` unless it is reported."""
    account, payment = await _locked_payment(session, partner_id, payment_id)
    if payment.status != PaymentStatus.REPORTED.value:
        raise Conflict(f"a {payment.status} payment cannot be posted")
    await _post(session, account, payment, now)
    return payment


async def _post(session: AsyncSession, account: Account, payment: Payment, now: datetime) -> None:
    payment.status = PaymentStatus.POSTED.value
    payment.posted_at = now
    applied = await apply_credit_balance(session, account)
    await tell(
        session,
        account,
        PaymentPosted(
            payment_id=payment.id,
            account_id=account.id,
            customer_id=account.customer_id,
            invoice_ids=applied.invoice_ids_of(payment.id),
            amount=money(payment.amount, payment.currency),
            method=InstrumentType(payment.method),
            posted_at=now,
        ),
        subject=payment.id,
    )
    await announce_settled(session, account, applied.settled, now)
    await session.flush()
    await try_clear(session, account, now)
    await restore_if_current(session, account, today=_today(now), now=now, payment_id=payment.id)
    await check_exposure(session, account, now)
    log.info(
        "payment.posted",
        payment_id=str(payment.id),
        account_id=str(account.id),
        partner_id=str(account.partner_id),
        allocated=payment.allocated,
        credit=payment.amount - payment.allocated,
    )


async def reverse_payment(
    session: AsyncSession,
    partner_id: uuid.UUID,
    payment_id: uuid.UUID,
    body: ReversalIn,
    now: datetime,
) -> Payment:
    """Take a payment back. A posted one loses every allocation it still has (invoices it paid
    reopen, whenever they were issued); a reported one that never arrived is simply ended, so
    dunning resumes. ``Conflict`` for a reversed payment and for charging back an unposted one."""
    account, payment = await _locked_payment(session, partner_id, payment_id)
    if payment.status == PaymentStatus.REVERSED.value:
        raise Conflict("the payment is already reversed")
    if payment.status == PaymentStatus.REPORTED.value and body.reason is ReversalReason.CHARGEBACK:
        raise Conflict("a payment that never posted cannot be charged back; reverse it instead")
    reopened: list[Invoice] = []
    if payment.status == PaymentStatus.POSTED.value:
        reopened = await _take_back_allocations(session, payment, now)
    payment.status = PaymentStatus.REVERSED.value
    payment.reversed_at = now
    payment.reversal_reason = body.reason.value
    payment.reversal_detail = body.detail or None
    await session.flush()
    await tell(
        session,
        account,
        PaymentReversed(
            payment_id=payment.id,
            account_id=account.id,
            customer_id=account.customer_id,
            amount=money(payment.amount, payment.currency),
            reason=body.reason,
            detail=payment.reversal_detail,
            reversed_at=now,
        ),
        subject=payment.id,
    )
    for invoice in reopened:
        await tell(
            session,
            account,
            InvoiceReopened(
                invoice_id=invoice.id,
                account_id=account.id,
                customer_id=account.customer_id,
                balance=money(invoice.balance, invoice.currency),
                payment_id=payment.id,
                reopened_at=now,
            ),
            subject=invoice.id,
        )
    # Other payments' credit balance now meets the reopened debt, as it would have at issue.
    applied = await apply_credit_balance(session, account)
    await announce_settled(session, account, applied.settled, now)
    await session.flush()
    await check_exposure(session, account, now)
    log.info(
        "payment.reversed",
        payment_id=str(payment.id),
        account_id=str(account.id),
        partner_id=str(partner_id),
        reason=body.reason.value,
        reopened=len(reopened),
    )
    return payment


async def _take_back_allocations(
    session: AsyncSession, payment: Payment, now: datetime
) -> list[Invoice]:
    """End the payment's live allocations and take their money off the invoices; the invoices
    it had paid, which owe again now."""
    allocations = await PaymentRepository(session).live_allocations(payment.id)
    if not allocations:
        return []
    invoices = {
        i.id: i
        for i in await InvoiceRepository(session).by_ids(
            list(dict.fromkeys(a.invoice_id for a in allocations))
        )
    }
    for allocation in allocations:
        allocation.reversed_at = now
        invoices[allocation.invoice_id].paid -= allocation.amount
    payment.allocated = 0
    reopened = []
    for invoice in invoices.values():
        before = InvoiceStatus(invoice.status)
        after = status_after(before, invoice.total, invoice.paid, invoice.credited)
        invoice.status = after.value
        if before is InvoiceStatus.PAID and after is not InvoiceStatus.PAID:
            invoice.settled_at = None
            invoice.settled_reason = None
            reopened.append(invoice)
    return sorted(reopened, key=lambda i: (i.due_on, i.issued_on, i.id))


async def _locked_payment(
    session: AsyncSession, partner_id: uuid.UUID, payment_id: uuid.UUID
) -> tuple[Account, Payment]:
    """The payment and its account, the account locked first (as every money change does)."""
    payment = await get_payment(session, partner_id, payment_id)
    account = await lock_account(session, partner_id, payment.account_id)
    locked = await PaymentRepository(session).locked(partner_id, payment_id)
    assert locked is not None  # payments are never deleted
    return account, locked


async def get_payment(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Payment:
    """The partner's payment ``id_``; ``NotFound`` for none, and for another partner's."""
    payment = await PaymentRepository(session).get(partner_id, id_)
    if payment is None:
        raise NotFound("no such payment")
    return payment


async def payment_allocations(session: AsyncSession, payment: Payment) -> Sequence[Allocation]:
    return await PaymentRepository(session).allocations(payment.id)


async def list_payments(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    status: PaymentStatus | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Payment]:
    return await PaymentRepository(session).page(
        partner_id,
        account_id=account_id,
        customer_id=customer_id,
        status=status,
        limit=limit,
        after=after,
    )


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()
