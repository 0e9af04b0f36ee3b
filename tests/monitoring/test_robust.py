"""Median, MAD and the robust z-score the spend baselines rest on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.monitoring.detection.robust import EPSILON, mad, median, robust_score

D = Decimal
costs = st.decimals(min_value=0, max_value=1_000_000, places=2)
samples = st.lists(costs, min_size=1, max_size=60)


def test_median_of_odd_count_is_the_middle_value() -> None:
    assert median([D(5), D(1), D(3)]) == D(3)


def test_median_of_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median([D(4), D(1), D(3), D(10)]) == D("3.5")


def test_median_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="median of nothing"):
        median([])


def test_mad_ignores_one_wild_value() -> None:
    history = [D(100), D(102), D(98), D(101), D(99), D(5000)]
    assert median(history) == D("100.5")
    assert mad(history) == D("1.5")


def test_score_follows_the_formula() -> None:
    score = robust_score(D(130), [D(100), D(110), D(90), D(100), D(105)], mad_floor_ratio=0.0)
    # median 100, deviations 0 10 10 0 5 -> MAD 5; 0.6745 * 30 / 5
    assert (score.median, score.mad, score.scale, score.points) == (D(100), D(5), D(5), 5)
    assert score.z == pytest.approx(4.047)
    assert score.increase == D(30)


def test_flat_history_is_floored_at_a_share_of_the_median() -> None:
    score = robust_score(D(120), [D(100)] * 6, mad_floor_ratio=0.05)
    assert score.mad == 0
    assert score.scale == D(5)
    assert score.z == pytest.approx(0.6745 * 20 / 5)


def test_all_zero_history_divides_by_the_epsilon_not_by_zero() -> None:
    score = robust_score(D(1), [D(0)] * 5, mad_floor_ratio=0.05)
    assert score.scale == EPSILON
    assert score.z == pytest.approx(0.6745 / 1e-8)


@given(samples)
def test_median_lies_within_the_values(values: list[Decimal]) -> None:
    assert min(values) <= median(values) <= max(values)


@given(samples)
def test_half_the_values_lie_on_each_side_of_the_median(values: list[Decimal]) -> None:
    centre = median(values)
    assert 2 * sum(v <= centre for v in values) >= len(values)
    assert 2 * sum(v >= centre for v in values) >= len(values)


@given(samples, costs)
def test_shifting_the_values_shifts_the_median_and_keeps_the_mad(
    values: list[Decimal], shift: Decimal
) -> None:
    moved = [v + shift for v in values]
    assert median(moved) == median(values) + shift
    assert mad(moved) == mad(values)


@given(samples, st.integers(min_value=1, max_value=100))
def test_scaling_the_values_scales_the_mad(values: list[Decimal], factor: int) -> None:
    assert mad([v * factor for v in values]) == mad(values) * factor


@given(samples, costs, costs, st.floats(min_value=0, max_value=1))
def test_score_rises_with_the_observed_value(
    values: list[Decimal], low: Decimal, high: Decimal, floor: float
) -> None:
    low, high = sorted((low, high))
    assert robust_score(low, values, floor).z <= robust_score(high, values, floor).z


@given(samples, costs, st.floats(min_value=0, max_value=1))
def test_score_sign_is_the_sign_of_the_deviation(
    values: list[Decimal], observed: Decimal, floor: float
) -> None:
    score = robust_score(observed, values, floor)
    assert score.scale > 0
    assert (score.z > 0) == (observed > score.median)
    assert (score.z < 0) == (observed < score.median)
