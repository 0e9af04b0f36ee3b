"""Business days per country: not a weekend day of that country and not one of its public
holidays, from the maintained ``holidays`` library (observed days included). Pure: no I/O.

A country the library does not know keeps its weekend (Saturday and Sunday) and no holidays:
an account's country is already a valid ISO 3166 code, and a calendar we lack must not stop a
payment from being recorded.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

_DEFAULT_WEEKEND = frozenset({5, 6})  # Saturday, Sunday


@lru_cache(maxsize=512)
def _calendar(country: str, year: int) -> tuple[frozenset[int], frozenset[date]]:
    """The country's weekend (weekday numbers) and its public holidays in ``year``."""
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return _DEFAULT_WEEKEND, frozenset()
    return frozenset(calendar.weekend), frozenset(calendar.keys())


def is_business_day(day: date, country: str) -> bool:
    """Whether ``day`` is a working day in ``country`` (ISO 3166-1 alpha-2)."""
    weekend, holidays_of_year = _calendar(country.upper(), day.year)
    return day.weekday() not in weekend and day not in holidays_of_year


def add_business_days(start: date, days: int, country: str) -> date:
    """The day ``days`` business days after ``start`` in ``country``; ``start`` itself is not
    counted, so 0 days is ``start`` and 1 is the next business day after it."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, country):
            remaining -= 1
    return day
