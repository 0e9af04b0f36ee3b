"""The invoice's pure rules: line pricing, due dates, its status from the amounts, and which
changes each status allows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.invoices.state import (
    CLOSED,
    OPEN,
    check_can_credit,
    check_can_dispute,
    check_can_resolve,
    check_can_void,
    check_can_write_off,
    due_date,
    line_amount,
    settlement_status,
    status_after,
)
from partnerguard.billing.models import InvoiceStatus
from partnerguard.common.errors import Conflict

ALL = list(InvoiceStatus)


def expected_status(total: int, paid: int, credited: int) -> InvoiceStatus:
    if paid + credited == total:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.OPEN


def test_status_follows_the_amounts_for_every_small_invoice() -> None:
    for total in range(1, 8):
        for paid in range(total + 1):
            for credited in range(total - paid + 1):
                assert settlement_status(total, paid, credited) is expected_status(
                    total, paid, credited
                ), (total, paid, credited)


def test_the_named_cases() -> None:
    assert settlement_status(100, 0, 0) is InvoiceStatus.OPEN
    assert settlement_status(100, 1, 0) is InvoiceStatus.PARTIALLY_PAID
    assert settlement_status(100, 100, 0) is InvoiceStatus.PAID
    # A credit note alone is not a payment, but a fully credited invoice owes nothing: paid.
    assert settlement_status(100, 0, 40) is InvoiceStatus.OPEN
    assert settlement_status(100, 0, 100) is InvoiceStatus.PAID
    assert settlement_status(100, 60, 40) is InvoiceStatus.PAID
    assert settlement_status(100, 30, 40) is InvoiceStatus.PARTIALLY_PAID


@pytest.mark.parametrize(
    ("total", "paid", "credited"),
    [(0, 0, 0), (-5, 0, 0), (100, -1, 0), (100, 0, -1), (100, 101, 0), (100, 60, 41)],
)
def test_impossible_amounts_are_refused(total: int, paid: int, credited: int) -> None:
    with pytest.raises(ValueError, match="."):
        settlement_status(total, paid, credited)


@given(
    st.integers(1, 10**15).flatmap(
        lambda total: st.tuples(
            st.just(total),
            st.integers(0, total).flatmap(
                lambda paid: st.tuples(st.just(paid), st.integers(0, total - paid))
            ),
        )
    )
)
def test_status_is_paid_exactly_when_nothing_is_owed(case: tuple[int, tuple[int, int]]) -> None:
    total, (paid, credited) = case
    status = settlement_status(total, paid, credited)
    assert (status is InvoiceStatus.PAID) == (paid + credited == total)
    assert status in {InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID}


@pytest.mark.parametrize("current", ALL)
def test_closed_invoices_stay_closed_when_money_moves(current: InvoiceStatus) -> None:
    for paid in range(0, 11):
        after = status_after(current, 10, paid, 0)
        if current in CLOSED:
            assert after is current
        else:
            assert after is expected_status(10, paid, 0)


def test_a_paid_invoice_reopens_when_its_payment_goes() -> None:
    assert status_after(InvoiceStatus.PAID, 100, 0, 0) is InvoiceStatus.OPEN
    assert status_after(InvoiceStatus.PAID, 100, 50, 0) is InvoiceStatus.PARTIALLY_PAID
    assert status_after(InvoiceStatus.PAID, 100, 0, 100) is InvoiceStatus.PAID


def test_closed_amounts_must_still_make_sense() -> None:
    with pytest.raises(ValueError, match="beyond"):
        status_after(InvoiceStatus.VOID, 100, 101, 0)


@pytest.mark.parametrize("status", ALL)
def test_only_open_invoices_take_credit_notes_write_offs_and_disputes(
    status: InvoiceStatus,
) -> None:
    for check in (check_can_credit, check_can_write_off):
        if status in OPEN:
            check(status)
        else:
            with pytest.raises(Conflict):
                check(status)
    if status in OPEN:
        check_can_dispute(status, disputed=False)
    else:
        with pytest.raises(Conflict):
            check_can_dispute(status, disputed=False)
    with pytest.raises(Conflict):
        check_can_dispute(status, disputed=True)


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("paid", [0, 1])
def test_only_an_open_unpaid_invoice_can_be_voided(status: InvoiceStatus, paid: int) -> None:
    if status in OPEN and paid == 0:
        check_can_void(status, paid)
    else:
        with pytest.raises(Conflict):
            check_can_void(status, paid)


def test_only_a_disputed_invoice_can_be_resolved() -> None:
    check_can_resolve(disputed=True)
    with pytest.raises(Conflict):
        check_can_resolve(disputed=False)


@pytest.mark.parametrize(
    ("quantity", "unit_amount", "amount"),
    [
        ("1", 100, 100),
        ("1.5", 333, 500),  # 499.5 rounds half up
        ("1.5", 331, 497),  # 496.5
        ("0.333333", 3, 1),  # 0.999999
        ("0.000001", 499_999, 0),  # 0.499999
        ("0.000001", 500_000, 1),  # 0.5
        ("2.25", 2, 5),  # 4.5
        ("0.5", -1, -1),  # half away from zero for a discount
        ("0.4", -1, 0),
        ("100", 0, 0),
    ],
)
def test_line_amounts_round_half_up(quantity: str, unit_amount: int, amount: int) -> None:
    assert line_amount(Decimal(quantity), unit_amount) == amount


@given(
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000000"), places=6),
    st.integers(-(10**9), 10**9),
)
def test_a_line_amount_is_within_half_a_unit_of_the_exact_product(
    quantity: Decimal, unit_amount: int
) -> None:
    exact = quantity * unit_amount
    amount = line_amount(quantity, unit_amount)
    assert abs(Decimal(amount) - exact) <= Decimal("0.5")
    assert isinstance(amount, int)


def test_due_date_is_net_terms_in_calendar_days() -> None:
    assert due_date(date(2026, 11, 20), 0) == date(2026, 11, 20)
    assert due_date(date(2026, 11, 20), 30) == date(2026, 12, 20)
    assert due_date(date(2026, 12, 15), 30) == date(2027, 1, 14)
    assert due_date(date(2028, 2, 1), 29) == date(2028, 3, 1)  # leap year
