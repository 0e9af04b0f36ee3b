"""Queries for daily usage: the upsert that keeps each day's latest computation."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.dialects.postgresql import insert

from partnerguard.billing.models import DailyUsage
from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id


class DailyUsageRepository(Repository[DailyUsage]):
    model = DailyUsage

    async def upsert_latest(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        day: date,
        *,
        amount: int,
        currency: str,
        computed_at: datetime,
    ) -> bool:
        """Store the customer's spend for ``day`` unless a computation at least as recent is
        stored already (a late, older recomputation changes nothing); True when stored.

        One statement: of two concurrent deliveries for a day, the newer wins either way.
        """
        proposed = insert(DailyUsage).values(
            id=new_id(),
            partner_id=partner_id,
            customer_id=customer_id,
            day=day,
            amount=amount,
            currency=currency,
            computed_at=computed_at,
        )
        statement = proposed.on_conflict_do_update(
            index_elements=["partner_id", "customer_id", "day"],
            set_={
                "amount": proposed.excluded.amount,
                "currency": proposed.excluded.currency,
                "computed_at": proposed.excluded.computed_at,
            },
            where=DailyUsage.computed_at < proposed.excluded.computed_at,
        ).returning(DailyUsage.id)
        return (await self.session.execute(statement)).scalar_one_or_none() is not None
