"""Queries for pending actions: the approvals list, one locked for a decision, the lapsed ones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.models import PendingAction


class ApprovalRepository(Repository[PendingAction]):
    model = PendingAction

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        status: str | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[PendingAction]:
        statement = self.select_for_partner(partner_id)
        if status is not None:
            statement = statement.where(PendingAction.status == status)
        if after is not None:
            statement = statement.where(PendingAction.id > after)
        return await self.list(statement.order_by(PendingAction.id).limit(limit + 1))

    async def lapsed(self, now: datetime, *, limit: int) -> Sequence[PendingAction]:
        """Pending actions of every partner past their expiry, locked; rows another replica
        holds are skipped (sweep role only)."""
        statement = (
            select(PendingAction)
            .where(PendingAction.status == "pending", PendingAction.expires_at <= now)
            .order_by(PendingAction.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self.list(statement)
