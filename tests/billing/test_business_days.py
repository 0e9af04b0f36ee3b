"""Business days per country, from the maintained holidays calendar: how long a reported
payment may take to post."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partnerguard.billing.payments.business_days import add_business_days, is_business_day

COUNTRIES = ["US", "DE", "GB", "FR", "JP", "SA", "IL", "ZZ"]


def test_weekends_are_not_business_days() -> None:
    assert is_business_day(date(2026, 11, 20), "DE")  # Friday
    assert not is_business_day(date(2026, 11, 21), "DE")  # Saturday
    assert not is_business_day(date(2026, 11, 22), "DE")  # Sunday
    assert is_business_day(date(2026, 11, 23), "DE")  # Monday


def test_public_holidays_are_not_business_days() -> None:
    assert not is_business_day(date(2026, 12, 25), "DE")
    assert not is_business_day(date(2026, 12, 26), "DE")  # a Saturday and a holiday
    assert not is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert is_business_day(date(2026, 11, 26), "DE")
    assert is_business_day(date(2026, 11, 27), "US")


def test_an_observed_holiday_is_not_a_business_day() -> None:
    # 4 July 2026 is a Saturday; the United States observe it on Friday 3 July.
    assert not is_business_day(date(2026, 7, 3), "US")


def test_a_countrys_own_weekend_counts() -> None:
    # Saudi Arabia rests Friday and Saturday and works Sunday.
    assert not is_business_day(date(2026, 11, 20), "SA")
    assert is_business_day(date(2026, 11, 22), "SA")


def test_an_unknown_country_has_weekends_and_no_holidays() -> None:
    assert is_business_day(date(2026, 12, 25), "ZZ")
    assert not is_business_day(date(2026, 12, 26), "ZZ")


def test_country_codes_are_read_in_any_case() -> None:
    assert not is_business_day(date(2026, 12, 25), "de")


@pytest.mark.parametrize(
    ("start", "days", "country", "expected"),
    [
        (date(2026, 11, 18), 0, "US", date(2026, 11, 18)),  # 0 days: the day itself
        (date(2026, 11, 21), 0, "US", date(2026, 11, 21)),  # even a Saturday
        (date(2026, 11, 16), 5, "DE", date(2026, 11, 23)),  # Monday + 5 = next Monday
        (date(2026, 11, 19), 5, "DE", date(2026, 11, 26)),  # over a weekend
        (date(2026, 11, 21), 1, "DE", date(2026, 11, 23)),  # from a Saturday
        (date(2026, 11, 25), 5, "US", date(2026, 12, 3)),  # over Thanksgiving
        (date(2026, 11, 25), 5, "DE", date(2026, 12, 2)),
        (date(2026, 12, 23), 5, "DE", date(2026, 12, 31)),  # over Christmas
        (date(2026, 12, 23), 7, "DE", date(2027, 1, 5)),  # into the new year, past 1 January
        (date(2026, 12, 31), 1, "US", date(2027, 1, 4)),  # New Year's Day on a Friday
        (date(2026, 12, 24), 1, "ZZ", date(2026, 12, 25)),
    ],
)
def test_add_business_days(start: date, days: int, country: str, expected: date) -> None:
    assert add_business_days(start, days, country) == expected


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_days(date(2026, 11, 20), -1, "US")


starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@settings(max_examples=200)
@given(starts, st.integers(1, 40), st.sampled_from(COUNTRIES))
def test_the_result_is_a_business_day_after_the_start(start: date, days: int, country: str) -> None:
    result = add_business_days(start, days, country)
    assert result > start
    assert is_business_day(result, country)


@settings(max_examples=200)
@given(starts, st.integers(0, 40), st.sampled_from(COUNTRIES))
def test_there_are_exactly_that_many_business_days_in_between(
    start: date, days: int, country: str
) -> None:
    result = add_business_days(start, days, country)
    between = [start + timedelta(n) for n in range(1, (result - start).days + 1)]
    assert sum(is_business_day(day, country) for day in between) == days
    # Never fewer calendar days than business days.
    assert (result - start).days >= days


@settings(max_examples=200)
@given(starts, st.integers(0, 30), st.integers(0, 30), st.sampled_from(COUNTRIES))
def test_more_business_days_never_end_earlier(
    start: date, fewer: int, extra: int, country: str
) -> None:
    assert add_business_days(start, fewer, country) <= add_business_days(
        start, fewer + extra, country
    )
    if extra > 0:
        assert add_business_days(start, fewer, country) < add_business_days(
            start, fewer + extra, country
        )
