"""Builders of billing rows, inserted directly (sweep role) with the ORM models, for tests of
modules that read accounts, invoices and payments without going through their APIs."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from partnerguard.billing.models import Account, Invoice, InvoiceStatus, Payment, PaymentStatus
from partnerguard.common.db.engine import Database
from partnerguard.common.ids import new_id

_numbers = itertools.count(1)


async def add_account(
    db: Database,
    partner_id: uuid.UUID,
    *,
    billing_email: str | None = "ap@customer.example",
    currency: str = "USD",
    delinquent_since: date | None = None,
) -> Account:
    account = Account(
        id=new_id(),
        partner_id=partner_id,
        customer_id=uuid.uuid4(),
        currency=currency,
        country="US",
        risk_tier=None,
        credit_limit=None,
        prepayment_required=False,
        prepayment_amount=0,
        billing_email=billing_email,
        opened_by="api",
        cleared_at=datetime.now(UTC),
        delinquent_since=delinquent_since,
        over_limit=False,
    )
    async with db.sweep_session() as session:
        session.add(account)
    return account


async def add_invoice(
    db: Database,
    account: Account,
    *,
    due_on: date,
    total: int = 10_000,
    paid: int = 0,
    credited: int = 0,
    status: InvoiceStatus | None = None,
    disputed: bool = False,
    terms_days: int = 30,
) -> Invoice:
    """An issued invoice of ``account``; its status follows from the amounts unless given."""
    if status is None:
        status = InvoiceStatus.PARTIALLY_PAID if paid + credited > 0 else InvoiceStatus.OPEN
    invoice = Invoice(
        id=new_id(),
        partner_id=account.partner_id,
        account_id=account.id,
        customer_id=account.customer_id,
        number=f"INV-{next(_numbers):06d}",
        currency=account.currency,
        status=status.value,
        issued_on=due_on - timedelta(days=terms_days),
        terms_days=terms_days,
        due_on=due_on,
        total=total,
        paid=paid,
        credited=credited,
        disputed_at=datetime.now(UTC) if disputed else None,
        dispute_reason="customer disputes the charges" if disputed else None,
        created_by="tests",
    )
    async with db.sweep_session() as session:
        session.add(invoice)
    return invoice


async def add_payment(
    db: Database,
    account: Account,
    *,
    amount: int = 10_000,
    status: PaymentStatus = PaymentStatus.REPORTED,
    expected_by: date | None = None,
) -> Payment:
    now = datetime.now(UTC)
    payment = Payment(
        id=new_id(),
        partner_id=account.partner_id,
        account_id=account.id,
        customer_id=account.customer_id,
        amount=amount,
        currency=account.currency,
        method="bank_transfer",
        reference="remittance 42",
        invoice_hints=[],
        status=status.value,
        reported_at=now,
        expected_by=expected_by,
        posted_at=now if status is PaymentStatus.POSTED else None,
        allocated=0,
        recorded_by="tests",
    )
    async with db.sweep_session() as session:
        session.add(payment)
    return payment


async def set_invoice(db: Database, invoice_id: uuid.UUID, **values: object) -> None:
    """Change an invoice's columns directly (a dispute opened or cleared, a payment applied)."""
    async with db.sweep_session() as session:
        await session.execute(update(Invoice).where(Invoice.id == invoice_id).values(**values))


async def set_payment(db: Database, payment_id: uuid.UUID, **values: object) -> None:
    async with db.sweep_session() as session:
        await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


async def get_account(db: Database, account_id: uuid.UUID) -> Account:
    async with db.sweep_session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account
