"""Crypto-mining pattern: sudden GPU or high-core compute, with new regions or flat usage
round the clock (no I/O here).

The window is the ``window_hours`` hours ending with the latest hour of usage on the day
evaluated (so a late re-evaluation of an old day looks at that day, not at today). Heavy compute
is sudden when it dominates the window and was (nearly) absent in the ``prior_days`` before.
A region is new when first seen in the window or the 24 hours before it, unless it was seen on
the customer's very first day of usage (a brand-new customer's only region is not "new"; its
spend is the burst detector's business). Flatness is measured over the hours with spend.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.alerts.raising import Finding
from partnerguard.monitoring.detection.config import CryptoMining
from partnerguard.monitoring.usage.spend import decimal_string

ZERO = Decimal(0)
# How long before the window a region first seen still counts as new with it.
REGION_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class HourSpend:
    cost: Decimal
    heavy: Decimal


def mining_window(latest_hour: datetime, window_hours: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of the ``window_hours`` hours ending with ``latest_hour``."""
    end = latest_hour + timedelta(hours=1)
    return end - timedelta(hours=window_hours), end


def coefficient_of_variation(values: Sequence[Decimal]) -> float | None:
    """Population standard deviation over mean; None without values or with a mean <= 0."""
    if not values:
        return None
    mean = statistics.fmean(float(value) for value in values)
    if mean <= 0:
        return None
    return statistics.pstdev(float(value) for value in values) / mean


@dataclass(frozen=True)
class HeavyCompute:
    """What the window and the days before it spent, and on what."""

    window_start: datetime
    window_end: datetime
    heavy: Decimal
    total: Decimal
    prior_heavy: Decimal
    active_hours: int
    cv: float | None

    @property
    def heavy_share(self) -> float:
        return float(self.heavy / self.total) if self.total > 0 else 0.0


def measure_window(
    spend: Mapping[datetime, HourSpend], window: tuple[datetime, datetime], prior_days: int
) -> HeavyCompute:
    """Heavy and total spend in ``window``, heavy spend in the ``prior_days`` before it, and how
    flat the spend was over the window's hours with spend."""
    start, end = window
    prior_start = start - timedelta(days=prior_days)
    inside = [at for at in spend if start <= at < end]
    active = [spend[at].cost for at in inside if spend[at].cost > ZERO]
    return HeavyCompute(
        window_start=start,
        window_end=end,
        heavy=sum((spend[at].heavy for at in inside), ZERO),
        total=sum((spend[at].cost for at in inside), ZERO),
        prior_heavy=sum((s.heavy for at, s in spend.items() if prior_start <= at < start), ZERO),
        active_hours=len(active),
        cv=coefficient_of_variation(active),
    )


def is_sudden(compute: HeavyCompute, config: CryptoMining) -> bool:
    """Heavy compute reaching ``min_heavy_cost`` and ``heavy_share`` of the window's spend, after
    at most ``prior_share_max`` of it in the days before."""
    return (
        compute.heavy > ZERO
        and compute.heavy >= config.min_heavy_cost
        and compute.heavy >= Decimal(str(config.heavy_share)) * compute.total
        and compute.prior_heavy <= Decimal(str(config.prior_share_max)) * compute.heavy
    )


def is_flat(compute: HeavyCompute, config: CryptoMining) -> bool:
    return (
        compute.active_hours >= config.min_active_hours
        and compute.cv is not None
        and compute.cv <= config.flat_cv_max
    )


def new_regions(
    sightings: Sequence[tuple[str, datetime]],
    window: tuple[datetime, datetime],
    first_usage_day: date,
) -> tuple[str, ...]:
    """The regions first seen in the window or the day before it, after the first usage's day."""
    start, end = window
    return tuple(
        sorted(
            {
                region
                for region, seen_at in sightings
                if start - REGION_LOOKBACK <= seen_at < end and seen_at.date() > first_usage_day
            }
        )
    )


@dataclass(frozen=True)
class MiningPattern:
    compute: HeavyCompute
    new_regions: tuple[str, ...]
    flat: bool

    @property
    def signals(self) -> tuple[str, ...]:
        signals: list[str] = []
        if self.new_regions:
            signals.append("new_regions")
        if self.flat:
            signals.append("flat_usage")
        return tuple(signals)

    def severity(self, config: CryptoMining) -> Severity:
        return Severity.CRITICAL if self.new_regions and self.flat else config.severity


def assess_mining(
    compute: HeavyCompute, regions: tuple[str, ...], config: CryptoMining
) -> MiningPattern | None:
    """The pattern when heavy compute is sudden and comes with new regions or flat usage."""
    if not is_sudden(compute, config):
        return None
    flat = is_flat(compute, config)
    if not regions and not flat:
        return None
    return MiningPattern(compute=compute, new_regions=regions, flat=flat)


def mining_key(customer_id: uuid.UUID, day: date) -> str:
    return f"crypto_mining:{customer_id}:{day.isoformat()}"


def mining_finding(
    customer_id: uuid.UUID,
    day: date,
    pattern: MiningPattern,
    currency: str,
    config: CryptoMining,
    subscription_ids: Sequence[uuid.UUID] = (),
) -> Finding:
    compute = pattern.compute
    evidence: dict[str, str | int | float] = {
        "heavy_cost": decimal_string(compute.heavy),
        "total_cost": decimal_string(compute.total),
        "heavy_share": round(compute.heavy_share, 4),
        "heavy_share_min": config.heavy_share,
        "min_heavy_cost": decimal_string(config.min_heavy_cost),
        "prior_heavy_cost": decimal_string(compute.prior_heavy),
        "prior_days": config.prior_days,
        "prior_share_max": config.prior_share_max,
        "window_start": compute.window_start.isoformat(),
        "window_end": compute.window_end.isoformat(),
        "window_hours": config.window_hours,
        "active_hours": compute.active_hours,
        "min_active_hours": config.min_active_hours,
        "flat_cv_max": config.flat_cv_max,
        "new_regions": ",".join(pattern.new_regions),
        "new_region_count": len(pattern.new_regions),
        "signals": ",".join(pattern.signals),
        "currency": currency,
    }
    if compute.cv is not None:
        evidence["cv"] = round(compute.cv, 4)
    described: list[str] = []
    if pattern.new_regions:
        described.append("new regions " + ", ".join(pattern.new_regions))
    if pattern.flat:
        described.append("flat round-the-clock usage")
    return Finding(
        kind=AlertKind.CRYPTO_MINING,
        severity=pattern.severity(config),
        summary=(
            f"Sudden GPU or high-core compute ({evidence['heavy_cost']} {currency}, "
            f"{compute.heavy_share:.0%} of spend in {config.window_hours} h) with {' and '.join(described)}"
        ),
        dedup_key=mining_key(customer_id, day),
        customer_id=customer_id,
        rule="+".join(pattern.signals),
        evidence=evidence,
        subscription_ids=subscription_ids,
    )
