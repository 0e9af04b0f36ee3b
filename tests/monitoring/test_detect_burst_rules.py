"""New-customer burst decisions as pure functions: the tier's expectation, the first days."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.detection.burst import (
    assess_burst,
    burst_finding,
    days_elapsed,
    expected_daily_spend,
)
from partnerguard.monitoring.detection.config import NewCustomerBurst

D = Decimal
CONFIG = NewCustomerBurst()
CUSTOMER = uuid.UUID("0190d0d0-0000-7000-8000-000000000002")


def test_the_first_usage_day_is_day_one() -> None:
    assert days_elapsed(date(2026, 11, 10), date(2026, 11, 10)) == 1
    assert days_elapsed(date(2026, 11, 10), date(2026, 11, 16)) == 7
    # A late record from before the first usage is still day one, never day zero.
    assert days_elapsed(date(2026, 11, 10), date(2026, 11, 9)) == 1


def test_a_high_risk_customer_spending_far_above_its_tier_bursts() -> None:
    # high: 10 a day; day 2 -> limit 5 x 10 x 2 = 100
    burst = assess_burst(spent=D("100.01"), days=2, risk_tier="high", config=CONFIG)
    assert burst is not None
    assert (burst.tier, burst.expected_daily, burst.days, burst.limit) == ("high", D(10), 2, D(100))


def test_spend_at_the_limit_is_not_a_burst() -> None:
    assert assess_burst(spent=D(100), days=2, risk_tier="high", config=CONFIG) is None


def test_a_low_risk_customer_spending_normally_is_silent() -> None:
    # low: 200 a day expected; 900 on day 1 is under 5 x 200.
    assert assess_burst(spent=D(900), days=1, risk_tier="low", config=CONFIG) is None


def test_small_spend_never_bursts_even_far_above_the_tier() -> None:
    # high tier, day 1: limit 50, but less than min_spend 100.
    assert assess_burst(spent=D(99), days=1, risk_tier="high", config=CONFIG) is None
    assert assess_burst(spent=D(100), days=1, risk_tier="high", config=CONFIG) is not None


def test_after_the_first_days_nothing_bursts() -> None:
    assert assess_burst(spent=D(10**9), days=8, risk_tier="high", config=CONFIG) is None
    assert assess_burst(spent=D(10**9), days=7, risk_tier="high", config=CONFIG) is not None


def test_a_customer_without_tier_or_with_an_unlisted_one_is_unknown() -> None:
    assert expected_daily_spend(CONFIG, None) == ("unknown", D(20))
    assert expected_daily_spend(CONFIG, "extreme") == ("unknown", D(20))
    no_unknown = NewCustomerBurst(expected_daily_spend={"low": D(200)})
    assert expected_daily_spend(no_unknown, "high") is None
    assert assess_burst(spent=D(10**9), days=1, risk_tier="high", config=no_unknown) is None


def test_finding_carries_the_expectation_and_the_limit() -> None:
    burst = assess_burst(spent=D(800), days=3, risk_tier="medium", config=CONFIG)
    assert burst is not None
    first = datetime(2026, 11, 14, 9, tzinfo=UTC)
    finding = burst_finding(CUSTOMER, burst, first, "EUR", CONFIG, [CUSTOMER])
    assert finding.kind is AlertKind.NEW_CUSTOMER_BURST
    assert finding.severity is Severity.HIGH
    assert finding.dedup_key == f"new_customer_burst:{CUSTOMER}"
    assert finding.rule == "first_days"
    assert finding.evidence == {
        "observed": "800",
        "risk_tier": "medium",
        "expected_daily_spend": "50",
        "days_elapsed": 3,
        "factor": 5.0,
        "threshold": "750",
        "min_spend": "100",
        "first_days": 7,
        "first_usage_at": "2026-11-14T09:00:00+00:00",
        "currency": "EUR",
    }


@given(
    st.decimals(0, 10**6, places=2),
    st.decimals(0, 10**6, places=2),
    st.integers(1, 30),
    st.sampled_from(["low", "medium", "high", None]),
)
def test_more_spend_never_turns_a_burst_off(
    low: Decimal, high: Decimal, days: int, tier: str | None
) -> None:
    low, high = sorted((low, high))
    if assess_burst(spent=low, days=days, risk_tier=tier, config=CONFIG) is not None:
        assert assess_burst(spent=high, days=days, risk_tier=tier, config=CONFIG) is not None


@given(st.decimals(0, 10**6, places=2), st.integers(1, 30), st.sampled_from(["low", "high"]))
def test_a_burst_exceeds_its_limit_and_the_minimum(spent: Decimal, days: int, tier: str) -> None:
    burst = assess_burst(spent=spent, days=days, risk_tier=tier, config=CONFIG)
    if burst is not None:
        assert days <= CONFIG.first_days
        assert spent > burst.limit == burst.expected_daily * days * D(str(CONFIG.factor))
        assert spent >= CONFIG.min_spend
