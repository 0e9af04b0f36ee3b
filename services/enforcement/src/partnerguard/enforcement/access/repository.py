"""Queries for the access gate: the customer as the registry knows it, and its active holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.models import Customer, Hold


class AccessRepository(Repository[Customer]):
    model = Customer

    async def customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        statement = self.select_for_partner(partner_id).where(Customer.customer_id == customer_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def active_hold_reasons(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Sequence[str]:
        """The reason of every active hold on the customer or one of its subscriptions (a
        subscription hold carries its customer's id too)."""
        statement = select(Hold.reason).where(
            Hold.partner_id == partner_id,
            Hold.customer_id == customer_id,
            Hold.status == "active",
        )
        return (await self.session.execute(statement)).scalars().all()
