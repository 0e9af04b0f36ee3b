"""Queries for checks, always scoped to one partner and one application."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from partnerguard.common.db.repository import Repository
from partnerguard.onboarding.models import Check


class CheckRepository(Repository[Check]):
    model = Check

    async def for_application(
        self, partner_id: uuid.UUID, application_id: uuid.UUID
    ) -> Sequence[Check]:
        """All of an application's checks, oldest first."""
        statement = (
            self.select_for_partner(partner_id)
            .where(Check.application_id == application_id)
            .order_by(Check.id)
        )
        return await self.list(statement)

    def record(self, check: Check) -> None:
        """Add a check; it is written with the unit of work."""
        self.session.add(check)
