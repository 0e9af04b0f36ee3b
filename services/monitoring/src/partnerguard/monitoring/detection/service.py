"""Saving the partner's detector settings: each save is the next version of one document."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.repository import DetectorConfigRepository
from partnerguard.monitoring.models import DetectorConfig

log = structlog.get_logger()

# The built-in defaults a partner runs on before it saves settings of its own.
DEFAULT_VERSION = 0


async def save_config(
    session: AsyncSession, partner_id: uuid.UUID, config: DetectionConfig, actor: str
) -> DetectorConfig:
    """Store ``config`` as the partner's settings (the next version); detectors use it from
    their next run."""
    row = await DetectorConfigRepository(session).save(
        partner_id, config.model_dump(mode="json"), actor
    )
    log.info("detection.settings_saved", partner_id=str(partner_id), version=row.version)
    return row


async def saved_config(session: AsyncSession, partner_id: uuid.UUID) -> DetectorConfig | None:
    return await DetectorConfigRepository(session).of(partner_id)
