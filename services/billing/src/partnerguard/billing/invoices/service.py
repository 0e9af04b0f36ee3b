"""Invoices: issue (applying any credit balance), credit, void, write off, dispute; and the one
routine that applies an account's credit balance to what it owes, which payments use too.

Every change to an account's money takes the account's row lock first
(:func:`~partnerguard.billing.accounts.service.lock_account`), so changes to one account apply
one after the other and a payment is never applied twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.exposure import check_exposure
from partnerguard.billing.accounts.service import lock_account
from partnerguard.billing.accounts.standing import restore_if_current
from partnerguard.billing.invoices.repository import InvoiceRepository
from partnerguard.billing.invoices.schemas import CreditNoteIn, InvoiceFilters, InvoiceIn
from partnerguard.billing.invoices.state import (
    check_can_credit,
    check_can_dispute,
    check_can_resolve,
    check_can_void,
    check_can_write_off,
    due_date,
    line_amount,
    status_after,
)
from partnerguard.billing.models import (
    Account,
    Allocation,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from partnerguard.billing.money import money
from partnerguard.billing.payments.allocation import Share, allocate
from partnerguard.billing.payments.repository import PaymentRepository
from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.billing import (
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOutcome,
    InvoiceSettled,
)
from partnerguard.common.ids import new_id

log = structlog.get_logger()

# How far ahead of today (UTC) an issue date may lie: a partner east of UTC is a day ahead.
_ISSUE_AHEAD = timedelta(days=1)


# --- applying credit ---------------------------------------------------------------------------


@dataclass
class CreditApplied:
    """What one application of an account's credit balance did."""

    shares: list[Share] = field(default_factory=list)
    # Invoices it paid in full, in the order they were paid.
    settled: list[Invoice] = field(default_factory=list)

    def invoice_ids_of(self, payment_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
        """The invoices the payment was applied to, oldest first, each once."""
        return tuple(dict.fromkeys(s.invoice_id for s in self.shares if s.payment_id == payment_id))


async def apply_credit_balance(session: AsyncSession, account: Account) -> CreditApplied:
    """Apply the account's credit balance (unallocated parts of its posted payments, oldest
    payment first) to its open invoices (oldest due first). The caller holds the account lock
    and announces the invoices it settled with :func:`announce_settled`."""
    await session.flush()
    payments = {p.id: p for p in await PaymentRepository(session).with_credit(account.id)}
    if not payments:
        return CreditApplied()
    invoices = {i.id: i for i in await InvoiceRepository(session).open_for_account(account.id)}
    shares = allocate(
        [(p.id, p.amount - p.allocated) for p in payments.values()],
        [(i.id, i.balance) for i in invoices.values()],
    )
    applied = CreditApplied(shares=shares)
    payment_repository = PaymentRepository(session)
    for share in shares:
        payment, invoice = payments[share.payment_id], invoices[share.invoice_id]
        payment_repository.stage_allocation(
            Allocation(
                id=new_id(),
                partner_id=account.partner_id,
                payment_id=payment.id,
                invoice_id=invoice.id,
                amount=share.amount,
            )
        )
        payment.allocated += share.amount
        invoice.paid += share.amount
    for invoice_id in dict.fromkeys(s.invoice_id for s in shares):
        invoice = invoices[invoice_id]
        status = status_after(
            InvoiceStatus(invoice.status), invoice.total, invoice.paid, invoice.credited
        )
        invoice.status = status.value
        if status is InvoiceStatus.PAID:
            applied.settled.append(invoice)
    await session.flush()
    return applied


async def announce_settled(
    session: AsyncSession, account: Account, invoices: Sequence[Invoice], now: datetime
) -> None:
    """Stamp and announce invoices that just left the open states (``billing.invoice.settled``)."""
    for invoice in invoices:
        invoice.settled_at = now
        await tell(
            session,
            account,
            InvoiceSettled(
                invoice_id=invoice.id,
                account_id=account.id,
                customer_id=account.customer_id,
                status=InvoiceOutcome(invoice.status),
                total=money(invoice.total, invoice.currency),
                paid=money(invoice.paid, invoice.currency),
                credited=money(invoice.credited, invoice.currency),
                settled_at=now,
            ),
            subject=invoice.id,
        )
        log.info("invoice.settled", invoice_id=str(invoice.id), status=invoice.status)


# --- issuing -----------------------------------------------------------------------------------


async def issue_invoice(
    session: AsyncSession, partner_id: uuid.UUID, body: InvoiceIn, created_by: str, now: datetime
) -> Invoice:
    """Issue an invoice to the account, covering what it can from the account's credit balance.
    ``NotFound`` for an unknown account, ``Unprocessable`` for another currency or an issue date
    ahead of today, ``Conflict`` for a number the partner already used."""
    account = await lock_account(session, partner_id, body.account_id)
    if body.currency != account.currency:
        raise Unprocessable(
            f"the invoice currency {body.currency} is not the account's currency {account.currency}"
        )
    today = now.astimezone(UTC).date()
    issued_on = body.issued_on or today
    if issued_on > today + _ISSUE_AHEAD:
        raise Unprocessable("issued_on must not lie in the future")
    amounts = [line_amount(line.quantity, line.unit_amount) for line in body.lines]
    invoice_id = new_id()
    repository = InvoiceRepository(session)
    invoice = await repository.insert_new(
        {
            "id": invoice_id,
            "partner_id": partner_id,
            "account_id": account.id,
            "customer_id": account.customer_id,
            "number": body.number or _generated_number(invoice_id),
            "currency": account.currency,
            "status": InvoiceStatus.OPEN.value,
            "issued_on": issued_on,
            "terms_days": body.terms_days,
            "due_on": due_date(issued_on, body.terms_days),
            "period_start": body.period_start,
            "period_end": body.period_end,
            "memo": body.memo,
            "total": sum(amounts),
            "paid": 0,
            "credited": 0,
            "created_by": created_by,
        }
    )
    if invoice is None:
        raise Conflict(f"invoice number {body.number} is already used")
    repository.stage_lines(
        [
            InvoiceLine(
                id=new_id(),
                partner_id=partner_id,
                invoice_id=invoice.id,
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=amount,
            )
            for position, (line, amount) in enumerate(zip(body.lines, amounts, strict=True), 1)
        ]
    )
    await tell(
        session,
        account,
        InvoiceIssued(
            invoice_id=invoice.id,
            account_id=account.id,
            customer_id=account.customer_id,
            number=invoice.number,
            total=money(invoice.total, invoice.currency),
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
        ),
        subject=invoice.id,
    )
    applied = await apply_credit_balance(session, account)
    await announce_settled(session, account, applied.settled, now)
    await session.flush()
    await check_exposure(session, account, now)
    log.info(
        "invoice.issued",
        invoice_id=str(invoice.id),
        account_id=str(account.id),
        partner_id=str(partner_id),
        total=invoice.total,
        covered_by_credit=sum(share.amount for share in applied.shares),
    )
    return invoice


def _generated_number(invoice_id: uuid.UUID) -> str:
    # The UUIDv7 is unique and time-ordered, so generated numbers sort by issue.
    return f"INV-{invoice_id.hex.upper()}"


# --- reading -----------------------------------------------------------------------------------


async def get_invoice(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Invoice:
    """The partner's invoice ``id_``; ``NotFound`` for none, and for another partner's."""
    invoice = await InvoiceRepository(session).get(partner_id, id_)
    if invoice is None:
        raise NotFound("no such invoice")
    return invoice


@dataclass(frozen=True)
class InvoiceParts:
    lines: Sequence[InvoiceLine]
    allocations: Sequence[Allocation]
    credit_notes: Sequence[CreditNote]


async def invoice_parts(session: AsyncSession, invoice: Invoice) -> InvoiceParts:
    repository = InvoiceRepository(session)
    return InvoiceParts(
        lines=await repository.lines(invoice.id),
        allocations=await repository.allocations(invoice.id),
        credit_notes=await repository.credit_notes(invoice.id),
    )


async def list_invoices(
    session: AsyncSession,
    partner_id: uuid.UUID,
    filters: InvoiceFilters,
    *,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Invoice]:
    return await InvoiceRepository(session).page(partner_id, filters, limit=limit, after=after)


# --- changing ----------------------------------------------------------------------------------


async def _locked_invoice(
    session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID
) -> tuple[Account, Invoice]:
    """The invoice and its account, the account locked first (as every money change does)."""
    invoice = await get_invoice(session, partner_id, id_)
    account = await lock_account(session, partner_id, invoice.account_id)
    fresh = await InvoiceRepository(session).fresh(partner_id, id_)
    assert fresh is not None  # invoices are never deleted
    return account, fresh


async def _after_settling(session: AsyncSession, account: Account, now: datetime) -> None:
    """What may follow an invoice owing less: the account current again, its exposure lower."""
    await session.flush()
    await restore_if_current(session, account, today=now.astimezone(UTC).date(), now=now)
    await check_exposure(session, account, now)


async def issue_credit_note(
    session: AsyncSession,
    partner_id: uuid.UUID,
    invoice_id: uuid.UUID,
    body: CreditNoteIn,
    created_by: str,
    now: datetime,
) -> tuple[CreditNote, Invoice]:
    """Credit ``body.amount`` against an open invoice (at most its balance); an invoice that owes
    nothing afterwards is paid."""
    account, invoice = await _locked_invoice(session, partner_id, invoice_id)
    check_can_credit(InvoiceStatus(invoice.status))
    if body.amount > invoice.balance:
        raise Unprocessable(
            f"the credit note amount {body.amount} exceeds the invoice balance {invoice.balance}"
        )
    note = CreditNote(
        id=new_id(),
        partner_id=partner_id,
        invoice_id=invoice.id,
        account_id=account.id,
        amount=body.amount,
        reason=body.reason,
        created_by=created_by,
    )
    InvoiceRepository(session).stage_credit_note(note)
    invoice.credited += body.amount
    invoice.status = status_after(
        InvoiceStatus(invoice.status), invoice.total, invoice.paid, invoice.credited
    ).value
    await session.flush()
    await tell(
        session,
        account,
        CreditNoteIssued(
            credit_note_id=note.id,
            invoice_id=invoice.id,
            account_id=account.id,
            customer_id=account.customer_id,
            amount=money(note.amount, invoice.currency),
            reason=note.reason,
            issued_at=now,
        ),
        subject=invoice.id,
    )
    if invoice.status == InvoiceStatus.PAID.value:
        await announce_settled(session, account, [invoice], now)
    await _after_settling(session, account, now)
    log.info(
        "invoice.credited", invoice_id=str(invoice.id), amount=note.amount, status=invoice.status
    )
    return note, invoice


async def void_invoice(
    session: AsyncSession, partner_id: uuid.UUID, invoice_id: uuid.UUID, reason: str, now: datetime
) -> Invoice:
    """Cancel an open invoice that received no payment; ``Conflict`` otherwise."""
    account, invoice = await _locked_invoice(session, partner_id, invoice_id)
    check_can_void(InvoiceStatus(invoice.status), invoice.paid)
    return await _close(session, account, invoice, InvoiceStatus.VOID, reason, now)


async def write_off_invoice(
    session: AsyncSession, partner_id: uuid.UUID, invoice_id: uuid.UUID, reason: str, now: datetime
) -> Invoice:
    """Write an open invoice's balance off as uncollectible; ``Conflict`` if it owes nothing."""
    account, invoice = await _locked_invoice(session, partner_id, invoice_id)
    check_can_write_off(InvoiceStatus(invoice.status))
    return await _close(session, account, invoice, InvoiceStatus.UNCOLLECTIBLE, reason, now)


async def _close(
    session: AsyncSession,
    account: Account,
    invoice: Invoice,
    status: InvoiceStatus,
    reason: str,
    now: datetime,
) -> Invoice:
    invoice.status = status.value
    invoice.settled_reason = reason
    await announce_settled(session, account, [invoice], now)
    await _after_settling(session, account, now)
    log.info("invoice.closed", invoice_id=str(invoice.id), status=status.value)
    return invoice


async def dispute_invoice(
    session: AsyncSession, partner_id: uuid.UUID, invoice_id: uuid.UUID, reason: str, now: datetime
) -> Invoice:
    """Mark an open invoice disputed: dunning leaves it alone until the dispute is resolved."""
    _, invoice = await _locked_invoice(session, partner_id, invoice_id)
    check_can_dispute(InvoiceStatus(invoice.status), invoice.disputed_at is not None)
    invoice.disputed_at = now
    invoice.dispute_reason = reason
    await session.flush()
    log.info("invoice.disputed", invoice_id=str(invoice.id))
    return invoice


async def resolve_dispute(
    session: AsyncSession, partner_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice:
    """End an invoice's dispute: dunning takes it up again where it owes money."""
    _, invoice = await _locked_invoice(session, partner_id, invoice_id)
    check_can_resolve(invoice.disputed_at is not None)
    invoice.disputed_at = None
    invoice.dispute_reason = None
    await session.flush()
    log.info("invoice.dispute_resolved", invoice_id=str(invoice.id))
    return invoice
