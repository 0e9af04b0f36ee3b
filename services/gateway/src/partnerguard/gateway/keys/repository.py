"""Queries for signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text

from partnerguard.common.db.repository import Repository
from partnerguard.gateway.models import SigningKey

# Serialises key creation across gateway replicas (transaction-scoped advisory lock).
_KEY_LOCK = 0x6B657973


class SigningKeyRepository(Repository[SigningKey]):
    model = SigningKey

    async def lock(self) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})

    async def published(self, now: datetime) -> Sequence[SigningKey]:
        """Keys still in the JWKS, oldest activation first."""
        statement = (
            select(SigningKey)
            .where(SigningKey.expires_at > now)
            .order_by(SigningKey.activates_at, SigningKey.kid)
        )
        return await self.list(statement)

    async def latest(self) -> SigningKey | None:
        statement = select(SigningKey).order_by(SigningKey.activates_at.desc()).limit(1)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(SigningKey).where(SigningKey.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)

    async def now(self) -> datetime:
        value: datetime = (await self.session.execute(select(func.now()))).scalar_one()
        return value
