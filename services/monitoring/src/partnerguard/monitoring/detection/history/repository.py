"""Queries of the usage detectors: one customer's spend series, footprints and earlier alerts.

They run in the evaluation job's sweep transaction, where row-level security is bypassed, so
every query names the partner AND the customer. Each is one set-based statement over a primary
key prefix (``partner_id, customer_id, ...``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, tuple_, update

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.detection.crypto import HourSpend
from partnerguard.monitoring.detection.first_seen import Sighting
from partnerguard.monitoring.models import Alert, CustomerDay, Footprint, FootprintKind, UsageHourly


class UsageHistoryRepository(Repository[CustomerDay]):
    model = CustomerDay

    async def first_usage_hour(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID
    ) -> datetime | None:
        """The earliest hour the customer has usage in."""
        return await self.session.scalar(
            select(func.min(UsageHourly.hour)).where(
                UsageHourly.partner_id == partner_id, UsageHourly.customer_id == customer_id
            )
        )

    async def daily_costs(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, first: date, last: date
    ) -> dict[date, Decimal]:
        """The customer's total per day from ``first`` to ``last`` (days with usage only)."""
        rows = await self.session.execute(
            select(CustomerDay.day, CustomerDay.cost).where(
                CustomerDay.partner_id == partner_id,
                CustomerDay.customer_id == customer_id,
                CustomerDay.day >= first,
                CustomerDay.day <= last,
            )
        )
        return dict(rows.all())

    async def hourly_spend(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, start: datetime, end: datetime
    ) -> dict[datetime, HourSpend]:
        """The customer's spend and heavy-compute spend per hour in ``[start, end)`` (hours with
        usage only), over all its subscriptions and meter categories."""
        rows = await self.session.execute(
            select(UsageHourly.hour, func.sum(UsageHourly.cost), func.sum(UsageHourly.heavy_cost))
            .where(
                UsageHourly.partner_id == partner_id,
                UsageHourly.customer_id == customer_id,
                UsageHourly.hour >= start,
                UsageHourly.hour < end,
            )
            .group_by(UsageHourly.hour)
        )
        return {hour: HourSpend(cost, heavy) for hour, cost, heavy in rows}

    async def subscriptions_with_spend(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        start: datetime,
        end: datetime,
        *,
        heavy_only: bool = False,
    ) -> list[uuid.UUID]:
        """The customer's subscriptions with spend (or heavy-compute spend) in ``[start, end)``."""
        spent = UsageHourly.heavy_cost if heavy_only else UsageHourly.cost
        rows = await self.session.scalars(
            select(UsageHourly.subscription_id)
            .where(
                UsageHourly.partner_id == partner_id,
                UsageHourly.customer_id == customer_id,
                UsageHourly.hour >= start,
                UsageHourly.hour < end,
                spent > 0,
            )
            .distinct()
            .order_by(UsageHourly.subscription_id)
        )
        return list(rows)

    async def regions_first_seen(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """The regions the customer first used in ``[start, end)``, with when."""
        rows = await self.session.execute(
            select(Footprint.value, Footprint.first_seen_at).where(
                Footprint.partner_id == partner_id,
                Footprint.customer_id == customer_id,
                Footprint.kind == FootprintKind.REGION.value,
                Footprint.first_seen_at >= start,
                Footprint.first_seen_at < end,
            )
        )
        return [(region, seen_at) for region, seen_at in rows]

    async def claim_unreported(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, kinds: Collection[str]
    ) -> list[Sighting]:
        """The customer's footprints of ``kinds`` no detector has looked at yet, locked for this
        transaction; those another evaluation holds are skipped (it reports them)."""
        rows = await self.session.execute(
            select(Footprint.kind, Footprint.value, Footprint.first_seen_at)
            .where(
                Footprint.partner_id == partner_id,
                Footprint.customer_id == customer_id,
                Footprint.kind.in_(kinds),
                Footprint.reported.is_(False),
            )
            .order_by(Footprint.kind, Footprint.value)
            .with_for_update(skip_locked=True)
        )
        return [Sighting(kind, value, seen_at) for kind, value, seen_at in rows]

    async def mark_reported(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, sightings: Sequence[Sighting]
    ) -> None:
        if not sightings:
            return
        await self.session.execute(
            update(Footprint)
            .where(
                Footprint.partner_id == partner_id,
                Footprint.customer_id == customer_id,
                tuple_(Footprint.kind, Footprint.value).in_(
                    [(sighting.kind, sighting.value) for sighting in sightings]
                ),
            )
            .values(reported=True)
            .execution_options(synchronize_session=False)
        )

    async def alert_keys_starting(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, prefix: str
    ) -> set[str]:
        """The dedup keys of the customer's alerts that start with ``prefix``."""
        rows = await self.session.scalars(
            select(Alert.dedup_key).where(
                Alert.partner_id == partner_id,
                Alert.customer_id == customer_id,
                Alert.dedup_key.startswith(prefix, autoescape=True),
            )
        )
        return set(rows)
