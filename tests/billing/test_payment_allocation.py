"""Pouring ordered credit into ordered debt: oldest invoice first, oldest payment first."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.payments.allocation import Share, allocate

P1, P2, P3 = (uuid.UUID(int=n) for n in (1, 2, 3))
I1, I2, I3 = (uuid.UUID(int=n) for n in (11, 12, 13))


def test_one_payment_covers_invoices_in_order_and_keeps_the_rest() -> None:
    shares = allocate([(P1, 4_500)], [(I1, 1_000), (I2, 2_000), (I3, 3_000)])
    assert shares == [Share(P1, I1, 1_000), Share(P1, I2, 2_000), Share(P1, I3, 1_500)]


def test_an_overpayment_leaves_credit() -> None:
    shares = allocate([(P1, 10_000)], [(I1, 6_000)])
    assert shares == [Share(P1, I1, 6_000)]


def test_several_payments_are_spent_oldest_first() -> None:
    shares = allocate([(P1, 1_000), (P2, 1_000), (P3, 1_000)], [(I1, 1_500), (I2, 700)])
    assert shares == [
        Share(P1, I1, 1_000),
        Share(P2, I1, 500),
        Share(P2, I2, 500),
        Share(P3, I2, 200),
    ]


def test_nothing_to_pay_or_nothing_to_pay_with_allocates_nothing() -> None:
    assert allocate([], [(I1, 100)]) == []
    assert allocate([(P1, 100)], []) == []
    assert allocate([(P1, 0)], [(I1, 100)]) == []
    assert allocate([(P1, 100)], [(I1, 0), (I2, 50)]) == [Share(P1, I2, 50)]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        allocate([(P1, -1)], [(I1, 100)])
    with pytest.raises(ValueError, match="negative"):
        allocate([(P1, 1)], [(I1, -100)])


amounts = st.lists(st.integers(0, 10_000), max_size=8)


@given(amounts, amounts)
def test_allocation_conserves_money_and_fills_in_order(
    credit_amounts: list[int], owed_amounts: list[int]
) -> None:
    credits = [(uuid.UUID(int=n + 1), a) for n, a in enumerate(credit_amounts)]
    owed = [(uuid.UUID(int=1000 + n), a) for n, a in enumerate(owed_amounts)]
    shares = allocate(credits, owed)

    given_by = {pid: sum(s.amount for s in shares if s.payment_id == pid) for pid, _ in credits}
    taken_by = {iid: sum(s.amount for s in shares if s.invoice_id == iid) for iid, _ in owed}
    assert all(s.amount > 0 for s in shares)
    assert all(given_by[pid] <= amount for pid, amount in credits)
    assert all(taken_by[iid] <= amount for iid, amount in owed)
    # Everything that can meet does: either the credit or the debt is used up.
    applied = sum(s.amount for s in shares)
    assert applied == min(sum(credit_amounts), sum(owed_amounts))
    # Oldest first on both sides: a later invoice takes something only once every earlier one
    # is covered, and a later payment gives something only once every earlier one is spent.
    for n, (iid, _) in enumerate(owed):
        if taken_by[iid] > 0:
            assert all(taken_by[e] == a for e, a in owed[:n])
    for n, (pid, _) in enumerate(credits):
        if given_by[pid] > 0:
            assert all(given_by[e] == a for e, a in credits[:n])
