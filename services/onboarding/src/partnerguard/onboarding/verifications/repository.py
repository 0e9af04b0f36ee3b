"""Queries for verifications, always scoped to one partner and one application."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from partnerguard.common.db.repository import Repository
from partnerguard.onboarding.models import Verification


class VerificationRepository(Repository[Verification]):
    model = Verification

    async def for_application(
        self, partner_id: uuid.UUID, application_id: uuid.UUID
    ) -> Sequence[Verification]:
        """All of an application's verifications, oldest first."""
        statement = (
            self.select_for_partner(partner_id)
            .where(Verification.application_id == application_id)
            .order_by(Verification.id)
        )
        return await self.list(statement)

    async def one(
        self,
        partner_id: uuid.UUID,
        application_id: uuid.UUID,
        verification_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> Verification | None:
        statement = self.select_for_partner(partner_id).where(
            Verification.application_id == application_id, Verification.id == verification_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def pending(
        self, partner_id: uuid.UUID, application_id: uuid.UUID, channel: str
    ) -> Verification | None:
        """The channel's open verification (the service keeps at most one), locked."""
        statement = (
            self.select_for_partner(partner_id)
            .where(
                Verification.application_id == application_id,
                Verification.channel == channel,
                Verification.status == "pending",
            )
            .order_by(Verification.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def has_passed(
        self, partner_id: uuid.UUID, application_id: uuid.UUID, channel: str
    ) -> bool:
        statement = select(func.count()).where(
            Verification.partner_id == partner_id,
            Verification.application_id == application_id,
            Verification.channel == channel,
            Verification.status == "passed",
        )
        return bool(await self.session.scalar(statement))

    async def codes_sent(
        self, partner_id: uuid.UUID, application_id: uuid.UUID, channel: str
    ) -> int:
        """Codes sent on the channel for the application, over all its verifications."""
        statement = select(func.coalesce(func.sum(Verification.sends), 0)).where(
            Verification.partner_id == partner_id,
            Verification.application_id == application_id,
            Verification.channel == channel,
        )
        return int(await self.session.scalar(statement) or 0)
