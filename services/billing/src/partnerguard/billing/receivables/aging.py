"""Aging buckets and days sales outstanding: pure, no I/O.

An invoice is ``current`` until its due date has passed (due on or after ``as_of``); then it
ages by whole days past due into 1-30, 31-60, 61-90 and over 90. The repository builds its SQL
``CASE`` from :data:`BUCKETS`, so the query and :func:`bucket_of` cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

# DSO looks at credit sales over this many days up to and including as_of.
DSO_WINDOW_DAYS = 90


class Bucket(StrEnum):
    CURRENT = "current"
    DAYS_1_30 = "days_1_30"
    DAYS_31_60 = "days_31_60"
    DAYS_61_90 = "days_61_90"
    DAYS_OVER_90 = "days_over_90"


@dataclass(frozen=True)
class BucketBounds:
    """Days past due a bucket covers, inclusive; ``None`` is unbounded."""

    bucket: Bucket
    min_days: int | None
    max_days: int | None

    def holds(self, days_past_due: int) -> bool:
        return (self.min_days is None or days_past_due >= self.min_days) and (
            self.max_days is None or days_past_due <= self.max_days
        )


BUCKETS: tuple[BucketBounds, ...] = (
    BucketBounds(Bucket.CURRENT, None, 0),
    BucketBounds(Bucket.DAYS_1_30, 1, 30),
    BucketBounds(Bucket.DAYS_31_60, 31, 60),
    BucketBounds(Bucket.DAYS_61_90, 61, 90),
    BucketBounds(Bucket.DAYS_OVER_90, 91, None),
)


def days_past_due(due_on: date, as_of: date) -> int:
    """Whole days past due on ``as_of``: 0 on the due date, negative before it."""
    return (as_of - due_on).days


def bucket_of(due_on: date, as_of: date) -> Bucket:
    """The aging bucket of an invoice due on ``due_on``, seen on ``as_of``."""
    days = days_past_due(due_on, as_of)
    for bounds in BUCKETS:
        if bounds.holds(days):
            return bounds.bucket
    raise AssertionError("the buckets cover every day")  # pragma: no cover


def dso(receivables: int, credit_sales: int, window_days: int = DSO_WINDOW_DAYS) -> Decimal | None:
    """Days sales outstanding: receivables / credit sales over the window x its days, to one
    decimal; None when there were no credit sales to measure against."""
    if credit_sales <= 0:
        return None
    days = Decimal(receivables) / Decimal(credit_sales) * window_days
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
