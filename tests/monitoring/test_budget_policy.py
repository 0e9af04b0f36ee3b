"""The arithmetic of budgets: months, thresholds reached, the month-end forecast."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.monitoring.budgets.policy import (
    MIN_FORECAST_DAYS,
    Forecast,
    Month,
    days_elapsed,
    forecast_alerts,
    forecast_for,
    months_spanned,
    newly_reached,
    percent_used,
    threshold_reached,
)

money = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("999999999999"), places=8)
spend = st.decimals(min_value=Decimal(0), max_value=Decimal("999999999999"), places=8)
percents = st.lists(st.integers(1, 1000), min_size=1, max_size=10, unique=True)


def test_a_threshold_is_reached_at_exactly_its_amount() -> None:
    assert threshold_reached(Decimal("500"), Decimal("1000"), 50)
    assert not threshold_reached(Decimal("499.99999999"), Decimal("1000"), 50)
    assert threshold_reached(Decimal("1500"), Decimal("1000"), 150)


def test_newly_reached_skips_thresholds_reached_before_and_sorts() -> None:
    reached = newly_reached(Decimal("950"), Decimal("1000"), [100, 90, 50, 75], already={50})
    assert reached == [75, 90]


def test_months_know_their_bounds_including_leap_february() -> None:
    assert Month.of(date(2028, 2, 10)).last == date(2028, 2, 29)
    assert Month.of(date(2026, 2, 10)).days == 28
    assert Month.parse("2026-12").key == "2026-12"
    assert Month.parse("2026-12").first == date(2026, 12, 1)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "0000-01", "26-01", "2026-01-01", "٢٠٢٦-١١"])
def test_a_bad_month_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse(text)


def test_percent_used_is_cut_not_rounded() -> None:
    assert percent_used(Decimal("999.999"), Decimal("1000")) == Decimal("99.99")
    assert percent_used(Decimal("1000"), Decimal("1000")) == Decimal("100.00")


def test_days_elapsed_runs_to_today_in_the_current_month() -> None:
    march = Month(2026, 3)
    # A quiet stretch counts: spend on the 2nd only, seen on the 10th, spreads over 10 days.
    assert days_elapsed(march, date(2026, 3, 10), date(2026, 3, 2)) == 10


def test_days_elapsed_is_the_whole_month_once_it_is_over() -> None:
    assert days_elapsed(Month(2026, 2), date(2026, 3, 5), date(2026, 2, 3)) == 28


def test_days_elapsed_follows_spend_dated_ahead_of_the_clock() -> None:
    march = Month(2026, 3)
    assert days_elapsed(march, date(2026, 3, 4), date(2026, 3, 6)) == 6
    assert days_elapsed(march, date(2026, 2, 27), date(2026, 3, 2)) == 2
    assert days_elapsed(march, date(2026, 2, 27), None) == 0
    assert forecast_for(march, Decimal(0), date(2026, 2, 27), None) is None


def test_forecast_projects_the_run_rate_to_month_end() -> None:
    forecast = Forecast(spent=Decimal("300"), days_elapsed=3, days_in_month=30)
    assert forecast.run_rate == Decimal("100")
    assert forecast.projected == Decimal("3000")
    assert forecast.exceeds(Decimal("2999.99"))
    assert not forecast.exceeds(Decimal("3000"))


def test_forecast_alerts_only_from_the_third_day_and_below_the_budget() -> None:
    hot = Forecast(spent=Decimal("300"), days_elapsed=MIN_FORECAST_DAYS, days_in_month=30)
    assert forecast_alerts(hot, Decimal("1000"))
    early = Forecast(spent=Decimal("200"), days_elapsed=MIN_FORECAST_DAYS - 1, days_in_month=30)
    assert not forecast_alerts(early, Decimal("1000"))
    # Already over: the 100 % threshold says so, not a forecast.
    assert not forecast_alerts(hot, Decimal("300"))
    fits = Forecast(spent=Decimal("90"), days_elapsed=3, days_in_month=30)
    assert not forecast_alerts(fits, Decimal("1000"))


def test_a_forecast_needs_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="between 1 day"):
        Forecast(spent=Decimal(1), days_elapsed=0, days_in_month=30)


def test_months_spanned_counts_both_ends() -> None:
    assert months_spanned(date(2026, 1, 31), date(2026, 1, 31)) == 1
    assert months_spanned(date(2025, 12, 31), date(2026, 1, 1)) == 2
    assert months_spanned(date(2021, 1, 1), date(2025, 12, 31)) == 60


@given(spent=spend, amount=money, thresholds=percents, already=percents)
def test_newly_reached_is_exactly_the_unreached_thresholds_spend_covers(
    spent: Decimal, amount: Decimal, thresholds: list[int], already: list[int]
) -> None:
    reached = newly_reached(spent, amount, thresholds, already)
    assert reached == sorted(reached)
    assert len(set(reached)) == len(reached)
    for t in thresholds:
        covered = spent >= amount * t / 100
        assert (t in reached) == (covered and t not in already)


@given(amount=money, thresholds=percents, steps=st.lists(spend, min_size=1, max_size=6))
def test_rising_spend_reaches_each_threshold_once(
    amount: Decimal, thresholds: list[int], steps: list[Decimal]
) -> None:
    announced: list[int] = []
    for spent in sorted(steps):
        announced += newly_reached(spent, amount, thresholds, set(announced))
    assert len(announced) == len(set(announced))
    assert set(announced) == {t for t in thresholds if threshold_reached(max(steps), amount, t)}


@given(
    spent=spend,
    amount=money,
    year=st.integers(2000, 2100),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
)
def test_forecast_alert_agrees_with_the_rounded_numbers_it_reports(
    spent: Decimal, amount: Decimal, year: int, month: int, day: int
) -> None:
    span = Month(year, month)
    today = span.first + timedelta(days=min(day, span.days) - 1)
    forecast = forecast_for(span, spent, today, today)
    assert forecast is not None
    assert forecast.days_elapsed == today.day
    assert forecast.projected == pytest.approx(forecast.run_rate * span.days, rel=Decimal("1e-20"))
    alerts = forecast_alerts(forecast, amount)
    # Whatever rounding the reported projection carries, it never contradicts the decision.
    slack = Decimal("1e-12") * max(amount, Decimal(1))
    if alerts:
        assert spent < amount
        assert forecast.projected > amount - slack
        assert forecast.days_elapsed >= MIN_FORECAST_DAYS
    elif forecast.days_elapsed >= MIN_FORECAST_DAYS and spent < amount:
        assert forecast.projected < amount + slack
    if forecast.days_elapsed == span.days:
        # Over a whole month the projection is the spend itself: a closed month never warns.
        assert forecast.projected == spent
        assert not alerts
