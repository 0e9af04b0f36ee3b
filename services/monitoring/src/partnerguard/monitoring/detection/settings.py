"""The partner's detection settings as the detectors use them: saved, or the defaults."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.repository import DetectorConfigRepository

DEFAULTS = DetectionConfig()


async def load_config(session: AsyncSession, partner_id: uuid.UUID) -> DetectionConfig:
    row = await DetectorConfigRepository(session).of(partner_id)
    if row is None:
        return DEFAULTS
    return DetectionConfig.model_validate(row.config)
