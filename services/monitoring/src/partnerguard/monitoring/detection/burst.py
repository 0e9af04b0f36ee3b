"""New-customer burst: spend in a customer's first days far above what its risk tier leads to
expect (no I/O here).

Days are UTC days counted from the day of the first usage (that day is day 1), and the spend is
the total from that day through the day evaluated, so re-evaluating a day gives the same answer
whenever it runs. A tier the partner's settings do not list counts as ``unknown``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from partnerguard.common.events.types.monitoring import AlertKind
from partnerguard.monitoring.alerts.raising import Finding
from partnerguard.monitoring.detection.config import NewCustomerBurst
from partnerguard.monitoring.usage.spend import decimal_string

UNKNOWN_TIER = "unknown"


def days_elapsed(first_usage_day: date, day: date) -> int:
    """Which day of the customer's usage ``day`` is (the first usage's day is 1; at least 1)."""
    return max(1, (day - first_usage_day).days + 1)


def expected_daily_spend(
    config: NewCustomerBurst, risk_tier: str | None
) -> tuple[str, Decimal] | None:
    """The tier the expectation was taken for and the spend per day it expects."""
    tier = risk_tier if risk_tier in config.expected_daily_spend else UNKNOWN_TIER
    expected = config.expected_daily_spend.get(tier)
    return None if expected is None else (tier, expected)


@dataclass(frozen=True)
class Burst:
    spent: Decimal
    tier: str
    expected_daily: Decimal
    days: int
    limit: Decimal


def assess_burst(
    *, spent: Decimal, days: int, risk_tier: str | None, config: NewCustomerBurst
) -> Burst | None:
    """A burst when, within the first ``first_days`` days, ``spent`` exceeds ``factor`` times
    the tier's expected spend for ``days`` days and reaches ``min_spend``; else None."""
    if days > config.first_days:
        return None
    expectation = expected_daily_spend(config, risk_tier)
    if expectation is None:
        return None
    tier, expected = expectation
    days = max(1, days)
    limit = expected * days * Decimal(str(config.factor))
    if spent > limit and spent >= config.min_spend:
        return Burst(spent=spent, tier=tier, expected_daily=expected, days=days, limit=limit)
    return None


def burst_key(customer_id: uuid.UUID) -> str:
    return f"new_customer_burst:{customer_id}"


def burst_finding(
    customer_id: uuid.UUID,
    burst: Burst,
    first_usage: datetime,
    currency: str,
    config: NewCustomerBurst,
    subscription_ids: Sequence[uuid.UUID] = (),
) -> Finding:
    spent = decimal_string(burst.spent)
    return Finding(
        kind=AlertKind.NEW_CUSTOMER_BURST,
        severity=config.severity,
        summary=(
            f"New customer spent {spent} {currency} in its first {burst.days} day(s), above "
            f"{decimal_string(burst.limit)} ({config.factor:g} x the {burst.tier} tier's "
            f"{decimal_string(burst.expected_daily)} a day)"
        ),
        dedup_key=burst_key(customer_id),
        customer_id=customer_id,
        rule="first_days",
        evidence={
            "observed": spent,
            "risk_tier": burst.tier,
            "expected_daily_spend": decimal_string(burst.expected_daily),
            "days_elapsed": burst.days,
            "factor": config.factor,
            "threshold": decimal_string(burst.limit),
            "min_spend": decimal_string(config.min_spend),
            "first_days": config.first_days,
            "first_usage_at": first_usage.isoformat(),
            "currency": currency,
        },
        subscription_ids=subscription_ids,
    )
