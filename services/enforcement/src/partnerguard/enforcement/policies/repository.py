"""Queries for policy versions, the events received, and the pending actions policies create."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.models import PendingAction, PolicyVersion, ReceivedEvent


class PolicyRepository(Repository[PolicyVersion]):
    model = PolicyVersion

    async def latest(self, partner_id: uuid.UUID) -> PolicyVersion | None:
        statement = (
            self.select_for_partner(partner_id).order_by(PolicyVersion.version.desc()).limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_version(self, partner_id: uuid.UUID, version: int) -> PolicyVersion | None:
        statement = self.select_for_partner(partner_id).where(PolicyVersion.version == version)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def highest_version(self, partner_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.max(PolicyVersion.version), 0)).where(
            PolicyVersion.partner_id == partner_id
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def insert_version(self, values: dict[str, Any]) -> PolicyVersion | None:
        """Insert a version; None when that number was taken meanwhile (a concurrent save)."""
        statement = (
            insert(PolicyVersion)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "version"])
            .returning(PolicyVersion)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
    ) -> Sequence[PolicyVersion]:
        statement = self.select_for_partner(partner_id)
        if after is not None:
            statement = statement.where(PolicyVersion.id > after)
        return await self.list(statement.order_by(PolicyVersion.id).limit(limit + 1))


class ReceivedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, values: dict[str, Any]) -> bool:
        """Store an event once; False when it was stored before (a duplicate delivery)."""
        statement = (
            insert(ReceivedEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "event_id"])
            .returning(ReceivedEvent.event_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def since(
        self, partner_id: uuid.UUID, since: datetime, *, limit: int
    ) -> Sequence[ReceivedEvent]:
        statement = (
            select(ReceivedEvent)
            .where(ReceivedEvent.partner_id == partner_id, ReceivedEvent.occurred_at >= since)
            .order_by(ReceivedEvent.occurred_at, ReceivedEvent.event_id)
            .limit(limit)
        )
        result = await self.session.execute(statement)
        events: Sequence[ReceivedEvent] = result.scalars().all()
        return events


class PendingActionRepository(Repository[PendingAction]):
    model = PendingAction

    async def insert_new(self, values: dict[str, Any]) -> PendingAction | None:
        """Insert a pending action; None when this rule already asked for it on this event."""
        statement = (
            insert(PendingAction)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["partner_id", "rule", "source_event_id", "action"]
            )
            .returning(PendingAction)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
