"""Crypto-mining decisions as pure functions: the window, sudden heavy compute, new regions,
flat usage, and how they combine."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.detection.config import CryptoMining
from partnerguard.monitoring.detection.crypto import (
    HeavyCompute,
    HourSpend,
    assess_mining,
    coefficient_of_variation,
    is_flat,
    is_sudden,
    measure_window,
    mining_finding,
    mining_window,
    new_regions,
)

D = Decimal
CONFIG = CryptoMining()
CUSTOMER = uuid.UUID("0190d0d0-0000-7000-8000-000000000003")
END = datetime(2026, 11, 16, 23, tzinfo=UTC)  # the latest hour with usage
WINDOW = mining_window(END, 24)


def hours(start: datetime, count: int, cost: str, heavy: str = "0") -> dict[datetime, HourSpend]:
    return {start + timedelta(hours=i): HourSpend(D(cost), D(heavy)) for i in range(count)}


def compute(
    heavy: str = "200",
    total: str = "220",
    prior: str = "0",
    active: int = 24,
    cv: float | None = 0.05,
) -> HeavyCompute:
    return HeavyCompute(WINDOW[0], WINDOW[1], D(heavy), D(total), D(prior), active, cv)


def test_the_window_ends_with_the_latest_hour_of_usage() -> None:
    assert WINDOW == (datetime(2026, 11, 16, 0, tzinfo=UTC), datetime(2026, 11, 17, 0, tzinfo=UTC))


def test_measure_window_sums_the_window_and_the_prior_days_apart() -> None:
    spend = hours(WINDOW[0] - timedelta(days=20), 24, "5", "5")  # older than the prior days
    spend |= hours(WINDOW[0] - timedelta(days=3), 10, "2", "1")
    spend |= hours(WINDOW[0], 20, "10", "9") | hours(WINDOW[0] + timedelta(hours=20), 4, "0")
    measured = measure_window(spend, WINDOW, prior_days=14)
    assert (measured.heavy, measured.total, measured.prior_heavy) == (D(180), D(200), D(10))
    assert measured.active_hours == 20
    assert measured.cv == 0
    assert measured.heavy_share == pytest.approx(0.9)


def test_coefficient_of_variation() -> None:
    assert coefficient_of_variation([D(4)] * 10) == 0
    assert coefficient_of_variation([D(1), D(3)]) == pytest.approx(0.5)
    assert coefficient_of_variation([]) is None
    assert coefficient_of_variation([D(0), D(0)]) is None


@given(st.lists(st.decimals("0.01", 1000, places=2), min_size=1, max_size=72), st.integers(1, 50))
def test_coefficient_of_variation_ignores_the_scale(values: list[Decimal], factor: int) -> None:
    plain = coefficient_of_variation(values)
    scaled = coefficient_of_variation([v * factor for v in values])
    assert plain is not None
    assert scaled is not None
    assert plain >= 0
    assert scaled == pytest.approx(plain, rel=1e-9, abs=1e-12)


def test_heavy_compute_out_of_nowhere_is_sudden() -> None:
    assert is_sudden(compute(), CONFIG)


def test_a_customer_that_always_ran_gpus_is_not_sudden() -> None:
    # 14 days of 200 a day before: far more than 10 % of the window's 200.
    assert not is_sudden(compute(prior="2800"), CONFIG)
    assert is_sudden(compute(prior="20"), CONFIG)


def test_heavy_compute_that_is_a_small_share_or_small_spend_is_not_sudden() -> None:
    assert not is_sudden(compute(heavy="100", total="201"), CONFIG)
    assert not is_sudden(compute(heavy="19", total="20"), CONFIG)
    assert not is_sudden(
        compute(heavy="0", total="0"), CONFIG.model_copy(update={"min_heavy_cost": D(0)})
    )


def test_flat_needs_enough_hours_and_a_low_variation() -> None:
    assert is_flat(compute(active=18, cv=0.25), CONFIG)
    assert not is_flat(compute(active=17, cv=0.0), CONFIG)
    assert not is_flat(compute(active=24, cv=0.26), CONFIG)
    assert not is_flat(compute(active=24, cv=None), CONFIG)


def test_new_regions_are_first_seen_in_the_window_or_the_day_before() -> None:
    sightings = [
        ("westeurope", datetime(2026, 11, 1, 8, tzinfo=UTC)),  # long known
        ("brazilsouth", WINDOW[0] - timedelta(hours=23)),
        ("koreacentral", WINDOW[0] + timedelta(hours=5)),
        ("japaneast", WINDOW[0] - timedelta(hours=25)),
        ("uaenorth", WINDOW[1]),
    ]
    assert new_regions(sightings, WINDOW, date(2026, 11, 1)) == ("brazilsouth", "koreacentral")


def test_regions_of_the_first_day_of_usage_are_not_new() -> None:
    sightings = [("koreacentral", WINDOW[0] + timedelta(hours=5))]
    assert new_regions(sightings, WINDOW, WINDOW[0].date()) == ()


def test_sudden_heavy_compute_alone_is_not_mining() -> None:
    assert assess_mining(compute(cv=0.9), (), CONFIG) is None


def test_sudden_heavy_compute_with_a_new_region_is_mining() -> None:
    pattern = assess_mining(compute(cv=0.9), ("koreacentral",), CONFIG)
    assert pattern is not None
    assert pattern.signals == ("new_regions",)
    assert pattern.severity(CONFIG) is Severity.HIGH


def test_sudden_flat_heavy_compute_is_mining() -> None:
    pattern = assess_mining(compute(), (), CONFIG)
    assert pattern is not None
    assert pattern.signals == ("flat_usage",)
    assert pattern.severity(CONFIG) is Severity.HIGH


def test_both_signals_make_it_critical() -> None:
    pattern = assess_mining(compute(), ("koreacentral",), CONFIG)
    assert pattern is not None
    assert pattern.severity(CONFIG) is Severity.CRITICAL


def test_not_sudden_is_never_mining() -> None:
    assert assess_mining(compute(prior="2800"), ("koreacentral",), CONFIG) is None


def test_finding_carries_the_window_numbers() -> None:
    pattern = assess_mining(compute(), ("brazilsouth", "koreacentral"), CONFIG)
    assert pattern is not None
    finding = mining_finding(CUSTOMER, END.date(), pattern, "EUR", CONFIG, [CUSTOMER])
    assert finding.kind is AlertKind.CRYPTO_MINING
    assert finding.dedup_key == f"crypto_mining:{CUSTOMER}:2026-11-16"
    assert finding.rule == "new_regions+flat_usage"
    assert finding.subscription_ids == [CUSTOMER]
    evidence = finding.evidence
    assert evidence["heavy_cost"] == "200"
    assert evidence["total_cost"] == "220"
    assert evidence["heavy_share"] == pytest.approx(0.9091, abs=1e-4)
    assert evidence["prior_heavy_cost"] == "0"
    assert evidence["new_regions"] == "brazilsouth,koreacentral"
    assert evidence["active_hours"] == 24
    assert evidence["cv"] == 0.05
    assert evidence["window_start"] == "2026-11-16T00:00:00+00:00"


@given(
    st.decimals(0, 1000, places=2),
    st.decimals(0, 1000, places=2),
    st.decimals(0, 5000, places=2),
    st.integers(0, 24),
    st.one_of(st.none(), st.floats(0, 3)),
    st.booleans(),
)
def test_mining_needs_sudden_heavy_compute_and_a_signal(
    heavy: Decimal, other: Decimal, prior: Decimal, active: int, cv: float | None, region: bool
) -> None:
    measured = HeavyCompute(WINDOW[0], WINDOW[1], heavy, heavy + other, prior, active, cv)
    regions = ("koreacentral",) if region else ()
    pattern = assess_mining(measured, regions, CONFIG)
    if pattern is None:
        assert not is_sudden(measured, CONFIG) or not (region or is_flat(measured, CONFIG))
    else:
        assert heavy >= CONFIG.min_heavy_cost
        assert prior <= D(str(CONFIG.prior_share_max)) * heavy
        assert (pattern.severity(CONFIG) is Severity.CRITICAL) == (region and pattern.flat)
