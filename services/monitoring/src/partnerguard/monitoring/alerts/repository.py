"""Queries for alerts."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.models import Alert


class AlertRepository(Repository[Alert]):
    model = Alert

    async def insert_new(self, values: dict[str, object]) -> Alert | None:
        """Insert unless an alert with the same dedup key exists; the new alert, or None."""
        statement = (
            insert(Alert)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "dedup_key"])
            .returning(Alert)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
