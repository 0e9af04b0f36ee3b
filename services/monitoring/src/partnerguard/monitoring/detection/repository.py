"""Queries for the partner's detection settings."""

from __future__ import annotations

import uuid

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.models import DetectorConfig


class DetectorConfigRepository(Repository[DetectorConfig]):
    model = DetectorConfig

    async def of(self, partner_id: uuid.UUID) -> DetectorConfig | None:
        return await self.session.get(DetectorConfig, partner_id)
