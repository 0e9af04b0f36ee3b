"""Queries for revoked access tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.gateway.models import RevokedToken


class RevokedTokenRepository(Repository[RevokedToken]):
    model = RevokedToken

    async def revoke(self, token: RevokedToken) -> None:
        statement = (
            insert(RevokedToken)
            .values(
                jti=token.jti,
                partner_id=token.partner_id,
                client_id=token.client_id,
                expires_at=token.expires_at,
            )
            .on_conflict_do_nothing(index_elements=["jti"])
        )
        await self.session.execute(statement)

    async def revoked_since(self, since: datetime) -> Sequence[tuple[str, datetime]]:
        statement = select(RevokedToken.jti, RevokedToken.expires_at).where(
            RevokedToken.revoked_at > since
        )
        return [(r[0], r[1]) for r in (await self.session.execute(statement)).all()]

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(RevokedToken).where(RevokedToken.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)
