"""Queries for risk policy versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select

from partnerguard.common.db.repository import Repository
from partnerguard.onboarding.models import RiskPolicyVersion


class RiskPolicyRepository(Repository[RiskPolicyVersion]):
    model = RiskPolicyVersion

    async def latest(self, partner_id: uuid.UUID) -> RiskPolicyVersion | None:
        statement = (
            self.select_for_partner(partner_id).order_by(RiskPolicyVersion.version.desc()).limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest_terms(self, partner_id: uuid.UUID) -> tuple[int, dict[str, Any]] | None:
        """The latest version's number and policy document: what scoring needs, read as plain
        values (every application reads it; an ORM entity costs more than the query)."""
        row = (await self.session.execute(_LATEST_TERMS, {"partner_id": partner_id})).one_or_none()
        return None if row is None else (row[0], row[1])

    async def versions(
        self, partner_id: uuid.UUID, limit: int, before_version: int | None
    ) -> Sequence[RiskPolicyVersion]:
        statement = self.select_for_partner(partner_id)
        if before_version is not None:
            statement = statement.where(RiskPolicyVersion.version < before_version)
        statement = statement.order_by(RiskPolicyVersion.version.desc()).limit(limit + 1)
        return await self.list(statement)

    async def lock_versions(self, partner_id: uuid.UUID) -> int:
        """The latest version number, holding a lock so two saves cannot take the same next one."""
        statement = (
            select(RiskPolicyVersion.version)
            .where(RiskPolicyVersion.partner_id == partner_id)
            .order_by(RiskPolicyVersion.version.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalar(statement)) or 0


_LATEST_TERMS = (
    select(RiskPolicyVersion.version, RiskPolicyVersion.policy)
    .where(RiskPolicyVersion.partner_id == bindparam("partner_id"))
    .order_by(RiskPolicyVersion.version.desc())
    .limit(1)
)
