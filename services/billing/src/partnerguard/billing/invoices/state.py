"""An invoice's arithmetic and its states, as pure functions (no I/O).

``open`` owes everything it was issued for (less credit notes), ``partially_paid`` has received
some payment and still owes, ``paid`` owes nothing (by payments, credit notes or both). ``void``
(cancelled before anything was paid) and ``uncollectible`` (the rest written off) are closed by
the partner and stay closed: money moving afterwards (a reversed payment) does not reopen them.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from partnerguard.billing.models import InvoiceStatus
from partnerguard.common.errors import Conflict

CLOSED = frozenset({InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE})
OPEN = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID})


def line_amount(quantity: Decimal, unit_amount: int) -> int:
    """A line's amount in minor units: quantity × unit amount, rounded half up (away from zero)."""
    return int((quantity * unit_amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def due_date(issued_on: date, terms_days: int) -> date:
    """Net ``terms_days``: due that many calendar days after issue (0 = due on receipt)."""
    return issued_on + timedelta(days=terms_days)


def settlement_status(total: int, paid: int, credited: int) -> InvoiceStatus:
    """The open-side status that ``paid`` and ``credited`` give an invoice of ``total``."""
    if total <= 0:
        raise ValueError("an invoice's total is positive")
    if paid < 0 or credited < 0:
        raise ValueError("paid and credited are never negative")
    if paid + credited > total:
        raise ValueError("an invoice is never settled beyond its total")
    if paid + credited == total:
        return InvoiceStatus.PAID
    if paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def status_after(current: InvoiceStatus, total: int, paid: int, credited: int) -> InvoiceStatus:
    """The status once money moved on an invoice now in ``current``: a closed invoice stays
    closed, any other takes the status its amounts give it."""
    if current in CLOSED:
        settlement_status(total, paid, credited)  # the amounts must still make sense
        return current
    return settlement_status(total, paid, credited)


def check_can_credit(status: InvoiceStatus) -> None:
    """A credit note reduces what an open invoice owes; ``Conflict`` on any other."""
    if status not in OPEN:
        raise Conflict(f"a {status.value} invoice owes nothing to credit")


def check_can_void(status: InvoiceStatus, paid: int) -> None:
    """Only an open invoice that received no payment can be voided."""
    if status not in OPEN:
        raise Conflict(f"a {status.value} invoice cannot be voided")
    if paid > 0:
        raise Conflict("an invoice that received payment cannot be voided; credit or write it off")


def check_can_write_off(status: InvoiceStatus) -> None:
    """Only an open invoice has a balance to write off."""
    if status not in OPEN:
        raise Conflict(f"a {status.value} invoice has no open balance to write off")


def check_can_dispute(status: InvoiceStatus, disputed: bool) -> None:
    """Only an open invoice can be disputed, and only once at a time."""
    if status not in OPEN:
        raise Conflict(f"a {status.value} invoice cannot be disputed")
    if disputed:
        raise Conflict("the invoice is already disputed")


def check_can_resolve(disputed: bool) -> None:
    if not disputed:
        raise Conflict("the invoice is not disputed")
