"""The arithmetic of budgets, without I/O: UTC calendar months, the thresholds a month's spend
has reached, and the month-end forecast.

Every comparison is exact (cross-multiplied decimals, no division), so a threshold reached at
exactly its amount counts as reached and no rounding ever decides an alert.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Context, Decimal

# A forecast over one or two days is noise (a single busy morning); from the third day on the
# run rate says something about the month.
MIN_FORECAST_DAYS = 3

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_HUNDREDTH = Decimal("0.01")
# A month's spend may reach 10^23 (see TOTAL in models.py) and a budget be as small as 10^-8:
# the percentage then has 35 digits, more than the default context's 28, which quantize refuses.
# Truncating at every step keeps the cut a cut.
_PERCENT = Context(prec=60, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Month:
    """A UTC calendar month."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ``ValueError`` for anything else (or year 0)."""
        matched = _MONTH.fullmatch(text)
        if matched is None or int(matched.group(1)) < 1:
            raise ValueError("a month is written YYYY-MM, e.g. 2026-03")
        return cls(int(matched.group(1)), int(matched.group(2)))

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def last(self) -> date:
        return date(self.year, self.month, self.days)


def threshold_reached(spent: Decimal, amount: Decimal, percent: int) -> bool:
    """Whether ``spent`` is at least ``percent`` % of ``amount``."""
    return spent * 100 >= amount * percent


def newly_reached(
    spent: Decimal, amount: Decimal, thresholds: Iterable[int], already: Collection[int]
) -> list[int]:
    """The thresholds ``spent`` has reached that were not reached before, ascending."""
    return sorted(
        t for t in set(thresholds) if t not in already and threshold_reached(spent, amount, t)
    )


def percent_used(spent: Decimal, amount: Decimal) -> Decimal:
    """``spent`` in percent of ``amount``, cut (not rounded) to 2 places, so 100.00 means the
    budget is really reached."""
    ratio = _PERCENT.divide(_PERCENT.multiply(spent, 100), amount)
    return ratio.quantize(_HUNDREDTH, context=_PERCENT)


def days_elapsed(month: Month, today: date, latest_spend: date | None) -> int:
    """The days of ``month`` the run rate spreads its spend over: the 1st through ``today``
    while the month runs (a quiet day counts: it lowers the rate), all of it once it is over,
    none before it starts — but never fewer than through the latest day with spend (usage
    dated ahead of the clock)."""
    through: date | None
    if today > month.last:
        through = month.last
    elif today >= month.first:
        through = today
    else:
        through = None
    if latest_spend is not None and month.first <= latest_spend <= month.last:
        through = latest_spend if through is None else max(through, latest_spend)
    return 0 if through is None else (through - month.first).days + 1


@dataclass(frozen=True)
class Forecast:
    """Where a month's spend is heading at its run rate so far."""

    spent: Decimal
    days_elapsed: int
    days_in_month: int

    def __post_init__(self) -> None:
        if not 1 <= self.days_elapsed <= self.days_in_month:
            raise ValueError("a forecast needs between 1 day and the whole month elapsed")

    @property
    def run_rate(self) -> Decimal:
        """Average spend per elapsed day."""
        return self.spent / self.days_elapsed

    @property
    def projected(self) -> Decimal:
        """Month-end spend at the run rate (computed without the rounded rate)."""
        return self.spent * self.days_in_month / self.days_elapsed

    def exceeds(self, amount: Decimal) -> bool:
        """Whether the projection is above ``amount`` (exact: no division involved)."""
        return self.spent * self.days_in_month > amount * self.days_elapsed


def forecast_for(
    month: Month, spent: Decimal, today: date, latest_spend: date | None
) -> Forecast | None:
    """The month's forecast as of ``today``; None before the month has begun."""
    elapsed = days_elapsed(month, today, latest_spend)
    if elapsed == 0:
        return None
    return Forecast(spent=spent, days_elapsed=elapsed, days_in_month=month.days)


def forecast_alerts(forecast: Forecast, amount: Decimal) -> bool:
    """Whether to warn that the month will overrun: the projection exceeds the budget, spend
    has not reached it yet (the 100 % threshold speaks then) and enough days have passed."""
    return (
        forecast.days_elapsed >= MIN_FORECAST_DAYS
        and forecast.spent < amount
        and forecast.exceeds(amount)
    )


def months_spanned(start: date, end: date) -> int:
    """Calendar months from ``start``'s through ``end``'s, both counted."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def days_spanned(start: date, end: date) -> int:
    """Days from ``start`` through ``end``, both counted."""
    return (end - start).days + 1
