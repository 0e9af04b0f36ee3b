"""Runs the partner's usage detectors over a customer-day whose spend changed.

The evaluation job calls ``run_detectors`` inside its sweep transaction (row-level security
bypassed), once per changed customer-day. This module does the reading and the raising; the
decisions are the pure functions of ``anomaly``, ``burst``, ``crypto`` and ``first_seen``. The
customer's history is read in a few set-based queries (its first usage, its daily totals, its
hourly series, its unreported footprints), and more only when something is about to fire.

A customer's "first usage" is the earlier of the registry's ``first_usage_at`` and the first
hour of its usage aggregates: the day being evaluated has usage, so one always exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.monitoring.alerts.raising import Finding, raise_alert
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.anomaly import (
    daily_anomaly,
    daily_finding,
    episodes_to_report,
    floor_hour,
    hourly_anomalies,
    hourly_episodes,
    hourly_finding,
    hourly_key_prefix,
)
from partnerguard.monitoring.detection.burst import assess_burst, burst_finding, days_elapsed
from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.crypto import (
    REGION_LOOKBACK,
    HourSpend,
    assess_mining,
    is_sudden,
    measure_window,
    mining_finding,
    mining_window,
    new_regions,
)
from partnerguard.monitoring.detection.first_seen import (
    KINDS,
    first_seen_finding,
    group_first_seen,
)
from partnerguard.monitoring.detection.history.repository import UsageHistoryRepository
from partnerguard.monitoring.models import Alert, CustomerDay

ONE_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class _Subject:
    """The customer-day under evaluation and what every detector needs to know of it."""

    partner_id: uuid.UUID
    customer_id: uuid.UUID
    day: date
    cost: Decimal
    currency: str
    risk_tier: str | None
    first_usage: datetime

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    @property
    def first_usage_day(self) -> date:
        return self.first_usage.astimezone(UTC).date()


class _Detection:
    """One customer-day's run: the history read once, the alerts raised collected."""

    def __init__(
        self, session: AsyncSession, subject: _Subject, config: DetectionConfig, now: datetime
    ) -> None:
        self.session = session
        self.history = UsageHistoryRepository(session)
        self.subject = subject
        self.config = config
        self.now = now
        self.raised: list[Alert] = []

    async def raise_(self, finding: Finding) -> None:
        alert = await raise_alert(self.session, self.subject.partner_id, finding, self.now)
        if alert is not None:
            self.raised.append(alert)

    async def subscriptions(
        self, start: datetime, end: datetime, *, heavy_only: bool = False
    ) -> list[uuid.UUID]:
        s = self.subject
        return await self.history.subscriptions_with_spend(
            s.partner_id, s.customer_id, start, end, heavy_only=heavy_only
        )

    async def run(self) -> list[Alert]:
        s, config = self.subject, self.config
        anomaly, crypto = config.spend_anomaly, config.crypto_mining
        burst_due = config.new_customer_burst.enabled and (
            days_elapsed(s.first_usage_day, s.day) <= config.new_customer_burst.first_days
        )

        daily: dict[date, Decimal] = {}
        if anomaly.enabled or burst_due:
            first = s.day - timedelta(weeks=anomaly.daily_baseline_weeks)
            if burst_due:
                first = min(first, s.first_usage_day)
            daily = await self.history.daily_costs(s.partner_id, s.customer_id, first, s.day)

        hourly: dict[datetime, HourSpend] = {}
        if anomaly.enabled or crypto.enabled:
            back = max(
                timedelta(days=anomaly.hourly_baseline_days) if anomaly.enabled else timedelta(),
                timedelta(hours=crypto.window_hours, days=crypto.prior_days)
                if crypto.enabled
                else timedelta(),
            )
            hourly = await self.history.hourly_spend(
                s.partner_id, s.customer_id, s.start - back, s.end
            )

        if anomaly.enabled:
            await self.spend_anomaly(daily, hourly)
        if burst_due:
            await self.new_customer_burst(daily)
        if crypto.enabled:
            await self.crypto_mining(hourly)
        await self.first_seen()
        return self.raised

    async def spend_anomaly(
        self, daily: dict[date, Decimal], hourly: dict[datetime, HourSpend]
    ) -> None:
        s, config = self.subject, self.config.spend_anomaly
        score = daily_anomaly(s.day, s.cost, daily, s.first_usage_day, config)
        if score is not None:
            subscriptions = await self.subscriptions(s.start, s.end)
            await self.raise_(
                daily_finding(s.customer_id, s.day, s.currency, score, config, subscriptions)
            )

        costs = {hour: spend.cost for hour, spend in hourly.items()}
        anomalies = hourly_anomalies(s.day, costs, floor_hour(s.first_usage), config)
        if not anomalies:
            return
        reported = await self.history.alert_keys_starting(
            s.partner_id, s.customer_id, hourly_key_prefix(s.customer_id, s.day)
        )
        for episode in episodes_to_report(s.customer_id, hourly_episodes(anomalies), reported):
            subscriptions = await self.subscriptions(episode.first, episode.last + ONE_HOUR)
            await self.raise_(
                hourly_finding(
                    s.customer_id, episode, len(anomalies), s.currency, config, subscriptions
                )
            )

    async def new_customer_burst(self, daily: dict[date, Decimal]) -> None:
        s, config = self.subject, self.config.new_customer_burst
        spent = sum(
            (cost for day, cost in daily.items() if s.first_usage_day <= day <= s.day),
            Decimal(0),
        )
        burst = assess_burst(
            spent=spent,
            days=days_elapsed(s.first_usage_day, s.day),
            risk_tier=s.risk_tier,
            config=config,
        )
        if burst is not None:
            subscriptions = await self.subscriptions(floor_hour(s.first_usage), s.end)
            await self.raise_(
                burst_finding(
                    s.customer_id, burst, s.first_usage, s.currency, config, subscriptions
                )
            )

    async def crypto_mining(self, hourly: dict[datetime, HourSpend]) -> None:
        s, config = self.subject, self.config.crypto_mining
        latest = max((hour for hour in hourly if hour < s.end), default=None)
        if latest is None:
            return
        window = mining_window(latest, config.window_hours)
        compute = measure_window(hourly, window, config.prior_days)
        if not is_sudden(compute, config):
            return
        sightings = await self.history.regions_first_seen(
            s.partner_id, s.customer_id, window[0] - REGION_LOOKBACK, window[1]
        )
        pattern = assess_mining(compute, new_regions(sightings, window, s.first_usage_day), config)
        if pattern is not None:
            subscriptions = await self.subscriptions(*window, heavy_only=True)
            await self.raise_(
                mining_finding(s.customer_id, s.day, pattern, s.currency, config, subscriptions)
            )

    async def first_seen(self) -> None:
        # Footprints are marked reported even while the detector is disabled: enabling it later
        # then alerts on what is new from then on, not on months of stale first sightings.
        s, config = self.subject, self.config.first_seen
        sightings = await self.history.claim_unreported(s.partner_id, s.customer_id, KINDS)
        if not sightings:
            return
        if config.enabled:
            for group in group_first_seen(sightings, s.first_usage, config.learning_days):
                await self.raise_(first_seen_finding(s.customer_id, group, s.first_usage, config))
        await self.history.mark_reported(s.partner_id, s.customer_id, sightings)


async def run_detectors(
    session: AsyncSession, day: CustomerDay, config: DetectionConfig, now: datetime
) -> list[Alert]:
    """Spend anomaly (daily and hourly), new-customer burst, crypto-mining and first-seen, each
    when enabled; the alerts newly raised."""
    customer = await CustomerRepository(session).by_customer(day.partner_id, day.customer_id)
    first_hour = await UsageHistoryRepository(session).first_usage_hour(
        day.partner_id, day.customer_id
    )
    known = [
        at for at in (customer.first_usage_at if customer else None, first_hour) if at is not None
    ]
    subject = _Subject(
        partner_id=day.partner_id,
        customer_id=day.customer_id,
        day=day.day,
        cost=day.cost,
        currency=day.currency,
        risk_tier=customer.risk_tier if customer else None,
        first_usage=min(known, default=datetime.combine(day.day, time(0), tzinfo=UTC)),
    )
    return await _Detection(session, subject, config, now).run()
