"""Spend-anomaly decisions as pure functions: baselines by weekday and hour, the firing rule,
hourly episodes and their cap."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.detection.anomaly import (
    HOURLY_ALERTS_PER_DAY,
    HourAnomaly,
    HourlyEpisode,
    daily_anomaly,
    daily_baseline,
    daily_finding,
    episodes_to_report,
    hourly_anomalies,
    hourly_baseline,
    hourly_episodes,
    hourly_finding,
    hourly_key,
    judge,
)
from partnerguard.monitoring.detection.config import SpendAnomaly
from partnerguard.monitoring.detection.robust import robust_score

D = Decimal
CONFIG = SpendAnomaly()
MONDAY = date(2026, 11, 16)
CUSTOMER = uuid.UUID("0190d0d0-0000-7000-8000-000000000001")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def weekly(values: list[int], day: date = MONDAY) -> dict[date, Decimal]:
    """``values[0]`` one week before ``day``, ``values[1]`` two weeks before, ..."""
    return {day - timedelta(weeks=i + 1): D(v) for i, v in enumerate(values)}


# --- daily ------------------------------------------------------------------------------------


def test_daily_baseline_takes_the_same_weekday_of_earlier_weeks() -> None:
    costs = weekly([101, 99, 104, 98]) | {MONDAY - timedelta(days=1): D(20)}
    baseline = daily_baseline(MONDAY, costs, date(2026, 1, 1), weeks=4)
    assert baseline == [D(101), D(99), D(104), D(98)]


def test_daily_baseline_counts_a_day_without_usage_as_zero_after_the_first_usage() -> None:
    costs = weekly([100, 100, 100])  # nothing four weeks back
    baseline = daily_baseline(MONDAY, costs, date(2026, 1, 1), weeks=5)
    assert baseline == [D(100), D(100), D(100), D(0), D(0)]


def test_daily_baseline_stops_at_the_first_usage() -> None:
    first = MONDAY - timedelta(weeks=3)
    baseline = daily_baseline(MONDAY, weekly([100, 100, 100]), first, weeks=8)
    assert baseline == [D(100), D(100), D(100)]


def test_a_spike_far_above_the_weekday_fires_with_its_numbers() -> None:
    costs = weekly([100, 104, 96, 101, 99, 103, 97, 100])
    score = daily_anomaly(MONDAY, D(400), costs, date(2026, 1, 1), CONFIG)
    assert score is not None
    assert (score.median, score.mad, score.points) == (D(100), D(2), 8)
    assert score.z > CONFIG.daily_z

    finding = daily_finding(CUSTOMER, MONDAY, "EUR", score, CONFIG, [CUSTOMER])
    assert finding.kind is AlertKind.SPEND_ANOMALY
    assert finding.rule == "daily"
    assert finding.severity is Severity.MEDIUM
    assert finding.dedup_key == f"spend_anomaly:daily:{CUSTOMER}:2026-11-16"
    assert finding.customer_id == CUSTOMER
    assert finding.subscription_ids == [CUSTOMER]
    assert finding.evidence["observed"] == "400"
    assert finding.evidence["median"] == "100"
    assert finding.evidence["mad"] == "2"
    assert finding.evidence["z"] == round(0.6745 * 300 / 5, 2)  # MAD floored at 5 % of 100
    assert finding.evidence["threshold"] == 3.5
    assert finding.evidence["baseline_points"] == 8
    assert finding.evidence["weekday"] == "Monday"


def test_an_ordinary_day_is_silent() -> None:
    costs = weekly([100, 104, 96, 101, 99, 103, 97, 100])
    assert daily_anomaly(MONDAY, D(106), costs, date(2026, 1, 1), CONFIG) is None


def test_a_weekend_is_judged_against_weekends() -> None:
    saturday = MONDAY - timedelta(days=2)
    costs = weekly([20, 22, 18, 21, 19, 20, 23, 17], day=saturday)
    assert daily_anomaly(saturday, D(21), costs, date(2026, 1, 1), CONFIG) is None


def test_too_short_a_history_is_silent() -> None:
    first = MONDAY - timedelta(weeks=3)
    assert daily_anomaly(MONDAY, D(10_000), weekly([100, 100, 100]), first, CONFIG) is None


def test_a_rise_smaller_than_the_minimum_is_silent_however_unusual() -> None:
    flat = [D(1)] * 8
    assert judge(D(40), flat, z_threshold=3.5, min_increase=D(50), config=CONFIG) is None
    assert judge(D(51), flat, z_threshold=3.5, min_increase=D(50), config=CONFIG) is not None


@given(
    st.lists(st.decimals(0, 10_000, places=2), min_size=0, max_size=30),
    st.decimals(0, 100_000, places=2),
    st.integers(3, 10),
)
def test_judge_fires_only_above_the_median_and_with_enough_points(
    baseline: list[Decimal], observed: Decimal, min_points: int
) -> None:
    config = SpendAnomaly(min_points=min_points)
    score = judge(observed, baseline, z_threshold=3.5, min_increase=D(0), config=config)
    if score is not None:
        assert len(baseline) >= min_points
        assert observed > score.median
        assert score.z >= 3.5
        assert score == robust_score(observed, baseline, config.mad_floor_ratio)


@given(
    st.dictionaries(
        st.integers(1, 200).map(lambda n: MONDAY - timedelta(days=n)),
        st.decimals(0, 1000, places=2),
    ),
    st.integers(0, 200).map(lambda n: MONDAY - timedelta(days=n)),
    st.integers(2, 26),
)
def test_daily_baseline_holds_only_same_weekday_points_since_the_first_usage(
    costs: dict[date, Decimal], first: date, weeks: int
) -> None:
    baseline = daily_baseline(MONDAY, costs, first, weeks)
    expected_days = [
        MONDAY - timedelta(weeks=k)
        for k in range(1, weeks + 1)
        if MONDAY - timedelta(weeks=k) >= first
    ]
    assert baseline == [costs.get(day, D(0)) for day in expected_days]


# --- hourly -----------------------------------------------------------------------------------


def test_hourly_baseline_takes_the_same_hour_on_the_same_kind_of_day() -> None:
    target = at(MONDAY, 10)
    costs = {target - timedelta(days=n): D(n) for n in range(1, 15)}
    baseline = hourly_baseline(target, costs, at(date(2026, 1, 1), 0), days=14)
    # 14 days back from a Monday: the 10 working days, not the 4 weekend days.
    assert baseline == [D(n) for n in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)]


def test_hourly_baseline_of_a_weekend_hour_takes_weekend_days() -> None:
    sunday = at(MONDAY - timedelta(days=1), 3)
    costs = {sunday - timedelta(days=n): D(n) for n in range(1, 15)}
    assert hourly_baseline(sunday, costs, at(date(2026, 1, 1), 0), days=14) == [
        D(1),
        D(7),
        D(8),
        D(14),
    ]


def test_hourly_baseline_starts_at_the_first_usage_hour() -> None:
    target = at(MONDAY, 10)
    first = at(MONDAY - timedelta(days=3), 11)  # Friday 11:00: Friday 10:00 is before it
    assert hourly_baseline(target, {}, first, days=28) == []
    first = at(MONDAY - timedelta(days=3), 10)
    assert hourly_baseline(target, {}, first, days=28) == [D(0)]


def business_hours(days: int) -> dict[datetime, Decimal]:
    """Working days 8 an hour from 9 to 17 and 1 otherwise; weekends 1 an hour."""
    costs: dict[datetime, Decimal] = {}
    for back in range(1, days + 1):
        day = MONDAY - timedelta(days=back)
        for hour in range(24):
            busy = day.weekday() < 5 and 9 <= hour < 17
            costs[at(day, hour)] = D(8) + D(back % 3) / 10 if busy else D(1) + D(hour % 2) / 10
    return costs


def test_an_ordinary_working_day_has_no_anomalous_hour() -> None:
    costs = business_hours(28) | {
        at(MONDAY, h): D("8.1") if 9 <= h < 17 else D(1) for h in range(24)
    }
    assert hourly_anomalies(MONDAY, costs, at(date(2026, 1, 1), 0), CONFIG) == []


def test_a_night_spike_is_an_anomalous_hour() -> None:
    costs = business_hours(28) | {at(MONDAY, 3): D(40), at(MONDAY, 10): D(8)}
    [found] = hourly_anomalies(MONDAY, costs, at(date(2026, 1, 1), 0), CONFIG)
    assert found.hour == at(MONDAY, 3)
    assert found.score.median == D("1.1")
    assert found.score.points == 20


def test_hours_without_spend_and_hours_of_other_days_are_not_judged() -> None:
    costs = business_hours(28) | {at(MONDAY, 3): D(0)}
    assert hourly_anomalies(MONDAY, costs, at(date(2026, 1, 1), 0), CONFIG) == []


def anomaly(hour: int, excess: int) -> HourAnomaly:
    """An anomalous hour spending ``excess`` above a usual 1."""
    return HourAnomaly(at(MONDAY, hour), robust_score(D(1 + excess), [D(1)] * 5, 0.05))


def test_consecutive_anomalous_hours_are_one_episode() -> None:
    episodes = hourly_episodes([anomaly(5, 9), anomaly(3, 7), anomaly(4, 12), anomaly(20, 8)])
    assert [(e.first.hour, e.last.hour, e.worst.hour.hour) for e in episodes] == [
        (3, 5, 4),
        (20, 20, 20),
    ]


def test_episodes_are_reported_worst_first_up_to_the_daily_cap() -> None:
    episodes = hourly_episodes([anomaly(h, 10 * h) for h in (1, 3, 5, 7, 9)])
    assert [e.first.hour for e in episodes_to_report(CUSTOMER, episodes, set())] == [9, 7, 5]
    reported = {hourly_key(CUSTOMER, at(MONDAY, 9))}
    assert [e.first.hour for e in episodes_to_report(CUSTOMER, episodes, reported)] == [7, 5]
    reported |= {hourly_key(CUSTOMER, at(MONDAY, h)) for h in (7, 5)}
    assert episodes_to_report(CUSTOMER, episodes, reported) == []


def test_an_episode_growing_keeps_its_key() -> None:
    early = hourly_episodes([anomaly(3, 7)])
    later = hourly_episodes([anomaly(3, 7), anomaly(4, 12)])
    reported = {hourly_key(CUSTOMER, early[0].first)}
    assert episodes_to_report(CUSTOMER, later, reported) == []


def test_hourly_finding_carries_the_worst_hour_and_the_episode() -> None:
    episode = HourlyEpisode((anomaly(3, 7), anomaly(4, 12)))
    finding = hourly_finding(CUSTOMER, episode, 3, "EUR", CONFIG)
    assert finding.rule == "hourly"
    assert finding.dedup_key == f"spend_anomaly:hourly:{CUSTOMER}:2026-11-16T03:00Z"
    assert finding.evidence["hour"] == "2026-11-16T04:00Z"
    assert finding.evidence["episode_start"] == "2026-11-16T03:00Z"
    assert finding.evidence["episode_end"] == "2026-11-16T05:00Z"
    assert finding.evidence["episode_hours"] == 2
    assert finding.evidence["anomalous_hours"] == 3
    assert finding.evidence["observed"] == "13"
    assert finding.evidence["increase"] == "12"
    assert finding.evidence["threshold"] == 5.0
    assert finding.evidence["day_kind"] == "working_day"


@given(st.sets(st.integers(0, 23)), st.sets(st.integers(0, 23)))
def test_episodes_partition_the_hours_and_the_cap_holds(
    hours: set[int], reported_hours: set[int]
) -> None:
    anomalies = [anomaly(h, 10 + h % 7) for h in hours]
    episodes = hourly_episodes(anomalies)
    assert sorted(a.hour.hour for e in episodes for a in e.anomalies) == sorted(hours)
    for episode in episodes:
        assert episode.last - episode.first == timedelta(hours=len(episode.anomalies) - 1)
    reported = {hourly_key(CUSTOMER, at(MONDAY, h)) for h in reported_hours}
    chosen = episodes_to_report(CUSTOMER, episodes, reported)
    assert len(chosen) <= max(0, HOURLY_ALERTS_PER_DAY - len(reported))
    assert all(hourly_key(CUSTOMER, e.first) not in reported for e in chosen)
