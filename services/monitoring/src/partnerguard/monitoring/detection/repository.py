"""Queries for the partner's detection settings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.models import DetectorConfig


class DetectorConfigRepository(Repository[DetectorConfig]):
    model = DetectorConfig

    async def of(self, partner_id: uuid.UUID) -> DetectorConfig | None:
        return await self.session.get(DetectorConfig, partner_id)

    async def save(
        self, partner_id: uuid.UUID, config: dict[str, Any], updated_by: str
    ) -> DetectorConfig:
        """Insert version 1, or replace the document as the next version, in one statement (two
        concurrent saves take consecutive versions)."""
        values = insert(DetectorConfig).values(
            partner_id=partner_id, version=1, config=config, updated_by=updated_by
        )
        statement = values.on_conflict_do_update(
            index_elements=["partner_id"],
            set_={
                "version": DetectorConfig.version + 1,
                "config": values.excluded.config,
                "updated_by": values.excluded.updated_by,
                "updated_at": func.now(),
            },
        ).returning(DetectorConfig)
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        row: DetectorConfig = result.scalar_one()
        return row
