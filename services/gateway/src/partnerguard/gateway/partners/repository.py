"""Queries for partners (a platform-wide table: no partner filter applies)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from partnerguard.common.db.repository import Repository
from partnerguard.gateway.models import Partner


class PartnerRepository(Repository[Partner]):
    model = Partner

    async def by_id(self, partner_id: uuid.UUID) -> Partner | None:
        return await self.session.get(Partner, partner_id)

    async def by_name(self, name: str) -> Partner | None:
        statement = select(Partner).where(Partner.name == name)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, limit: int, after: uuid.UUID | None) -> Sequence[Partner]:
        statement = select(Partner).order_by(Partner.id).limit(limit + 1)
        if after is not None:
            statement = statement.where(Partner.id > after)
        return await self.list(statement)
