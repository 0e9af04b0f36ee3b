"""How credit meets debt: posted money is applied to open invoices, oldest payment to oldest
invoice, each taking as much as it can before the next. Pure: no I/O.

The callers order both sides (invoices by due date, issue date, id; payments by posting time,
id); this module only pours one ordered list into the other. What is left on the credit side
is the account's credit balance, what is left on the debt side is still owed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Share:
    """``amount`` minor units of payment ``payment_id`` applied to invoice ``invoice_id``."""

    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: int


def allocate(
    credits: Sequence[tuple[uuid.UUID, int]], owed: Sequence[tuple[uuid.UUID, int]]
) -> list[Share]:
    """Apply ``credits`` (payment id, unallocated amount) to ``owed`` (invoice id, balance), both
    oldest first: each invoice is covered in full before the next takes anything, and each
    payment is used up before the next gives anything."""
    if any(amount < 0 for _, amount in credits) or any(amount < 0 for _, amount in owed):
        raise ValueError("credits and balances must not be negative")
    shares: list[Share] = []
    credit_left = [amount for _, amount in credits]
    p = 0
    for invoice_id, balance in owed:
        due = balance
        while due > 0 and p < len(credits):
            take = min(due, credit_left[p])
            if take > 0:
                shares.append(Share(credits[p][0], invoice_id, take))
                credit_left[p] -= take
                due -= take
            if credit_left[p] == 0:
                p += 1
        if p == len(credits):
            break
    return shares
