"""Queries for holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.holds.status import HoldStatus
from partnerguard.enforcement.models import Hold

_ACTIVE = HoldStatus.ACTIVE.value


class HoldRepository(Repository[Hold]):
    model = Hold

    async def insert_active(self, values: dict[str, Any]) -> Hold | None:
        """Insert an active hold; None when one of the same target and reason is in force (the
        partial unique index decides, so the transaction stays usable)."""
        statement = (
            insert(Hold)
            .values(**values, status=_ACTIVE)
            .on_conflict_do_nothing(
                index_elements=["partner_id", "customer_id", "subscription_id", "reason"],
                # A literal, as the index spells it: a bound parameter stops PostgreSQL from
                # matching the partial index once it switches the prepared statement to a
                # generic plan (after five runs), and the insert fails.
                index_where=text("status = 'active'"),
            )
            .returning(Hold)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def active_for(
        self,
        partner_id: uuid.UUID,
        *,
        customer_id: uuid.UUID,
        subscription_id: uuid.UUID | None,
        reason: str,
    ) -> Hold | None:
        """The hold in force on exactly this target for this reason."""
        target = (
            Hold.subscription_id.is_(None)
            if subscription_id is None
            else Hold.subscription_id == subscription_id
        )
        statement = self.select_for_partner(partner_id).where(
            Hold.customer_id == customer_id, target, Hold.reason == reason, Hold.status == _ACTIVE
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def active_of_customer(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Sequence[Hold]:
        """Every hold in force on the customer or any of its subscriptions, oldest first."""
        statement = self.select_for_partner(partner_id).where(
            Hold.customer_id == customer_id, Hold.status == _ACTIVE
        )
        return await self.list(statement.order_by(Hold.id))

    async def active_of_reason(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, reason: str
    ) -> Sequence[Hold]:
        statement = self.select_for_partner(partner_id).where(
            Hold.customer_id == customer_id, Hold.reason == reason, Hold.status == _ACTIVE
        )
        return await self.list(statement.order_by(Hold.id))

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        customer_id: uuid.UUID | None,
        subscription_id: uuid.UUID | None,
        reason: str | None,
        status: str | None,
        limit: int,
        before: uuid.UUID | None,
    ) -> Sequence[Hold]:
        """Newest first (ids are time-ordered); ``before`` is the last id of the previous page."""
        statement = self.select_for_partner(partner_id)
        if customer_id is not None:
            statement = statement.where(Hold.customer_id == customer_id)
        if subscription_id is not None:
            statement = statement.where(Hold.subscription_id == subscription_id)
        if reason is not None:
            statement = statement.where(Hold.reason == reason)
        if status is not None:
            statement = statement.where(Hold.status == status)
        if before is not None:
            statement = statement.where(Hold.id < before)
        return await self.list(statement.order_by(Hold.id.desc()).limit(limit + 1))
