"""Queries for OAuth clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from partnerguard.common.db.repository import Repository
from partnerguard.gateway.models import Client, Partner


class ClientRepository(Repository[Client]):
    model = Client

    async def page(
        self, partner_id: uuid.UUID, limit: int, after: uuid.UUID | None
    ) -> Sequence[Client]:
        statement = self.select_for_partner(partner_id).order_by(Client.id).limit(limit + 1)
        if after is not None:
            statement = statement.where(Client.id > after)
        return await self.list(statement)

    async def with_partner(self, client_id: str) -> tuple[Client, Partner] | None:
        """A client by its public identifier, with its partner: for the token endpoint, which
        learns the partner only from the client (a sweep session)."""
        statement = (
            select(Client, Partner)
            .join(Partner, Partner.id == Client.partner_id)
            .where(Client.client_id == client_id)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def revoked_since(self, since: datetime) -> Sequence[tuple[str, datetime]]:
        """Clients revoked after ``since``: their tokens are refused from then on."""
        statement = select(Client.client_id, Client.revoked_at).where(
            Client.status == "revoked", Client.revoked_at > since
        )
        rows = (await self.session.execute(statement)).all()
        return [(r[0], r[1]) for r in rows if r[1] is not None]
