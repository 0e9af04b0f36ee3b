"""Aging buckets and DSO, as pure functions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.receivables.aging import BUCKETS, Bucket, bucket_of, days_past_due, dso

AS_OF = date(2026, 6, 30)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-30, Bucket.CURRENT),
        (-1, Bucket.CURRENT),
        (0, Bucket.CURRENT),
        (1, Bucket.DAYS_1_30),
        (30, Bucket.DAYS_1_30),
        (31, Bucket.DAYS_31_60),
        (60, Bucket.DAYS_31_60),
        (61, Bucket.DAYS_61_90),
        (90, Bucket.DAYS_61_90),
        (91, Bucket.DAYS_OVER_90),
        (3650, Bucket.DAYS_OVER_90),
    ],
)
def test_an_invoice_ages_by_whole_days_past_due(days: int, bucket: Bucket) -> None:
    assert bucket_of(AS_OF - timedelta(days=days), AS_OF) is bucket


def test_an_invoice_due_on_the_day_is_current_and_past_due_the_next() -> None:
    due = date(2026, 2, 28)
    assert bucket_of(due, due) is Bucket.CURRENT
    assert bucket_of(due, date(2026, 3, 1)) is Bucket.DAYS_1_30


def test_dso_is_receivables_over_credit_sales_times_ninety_to_one_decimal() -> None:
    assert dso(3_000, 4_000) == Decimal("67.5")
    assert dso(1, 3) == Decimal("30.0")
    assert dso(2, 3) == Decimal("60.0")
    assert dso(1, 7) == Decimal("12.9")
    assert dso(0, 4_000) == Decimal("0.0")


def test_dso_without_credit_sales_is_undefined() -> None:
    assert dso(3_000, 0) is None


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@given(due_on=dates, as_of=dates)
def test_every_invoice_falls_in_exactly_one_bucket_matching_its_bounds(
    due_on: date, as_of: date
) -> None:
    days = days_past_due(due_on, as_of)
    holding = [bounds.bucket for bounds in BUCKETS if bounds.holds(days)]
    assert holding == [bucket_of(due_on, as_of)]


@given(due_on=dates, as_of=dates, later=st.integers(0, 400))
def test_an_invoice_never_grows_younger_as_time_passes(
    due_on: date, as_of: date, later: int
) -> None:
    order = list(Bucket)
    then = order.index(bucket_of(due_on, as_of))
    after = order.index(bucket_of(due_on, as_of + timedelta(days=later)))
    assert after >= then


@given(due_on=dates, as_of=dates)
def test_current_means_not_yet_past_due(due_on: date, as_of: date) -> None:
    assert (bucket_of(due_on, as_of) is Bucket.CURRENT) == (due_on >= as_of)


@given(receivables=st.integers(0, 10**12), sales=st.integers(1, 10**12))
def test_dso_grows_with_receivables_and_is_ninety_when_they_equal_sales(
    receivables: int, sales: int
) -> None:
    value = dso(receivables, sales)
    assert value is not None
    assert value >= 0
    bigger = dso(receivables + sales, sales)
    assert bigger is not None
    assert bigger >= value
    assert dso(sales, sales) == Decimal("90.0")
