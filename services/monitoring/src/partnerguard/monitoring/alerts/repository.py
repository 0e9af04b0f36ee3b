"""Queries for alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.events.types.monitoring import AlertResolution
from partnerguard.monitoring.alerts.schemas import AlertFilters
from partnerguard.monitoring.models import Alert, AlertStatus


@dataclass(frozen=True)
class DetectorCounts:
    kind: str
    rule: str | None
    confirmed: int
    false_positive: int
    open: int


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

    async def page(
        self,
        partner_id: uuid.UUID,
        filters: AlertFilters,
        *,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Alert]:
        """Newest first (by id, which is time-ordered)."""
        conditions: list[ColumnElement[bool]] = []
        if filters.status is not None:
            conditions.append(Alert.status == filters.status.value)
        if filters.kind is not None:
            conditions.append(Alert.kind == filters.kind.value)
        if filters.severity is not None:
            conditions.append(Alert.severity == filters.severity.value)
        if filters.customer_id is not None:
            conditions.append(Alert.customer_id == filters.customer_id)
        if filters.rule is not None:
            conditions.append(Alert.rule == filters.rule)
        if filters.raised_from is not None:
            conditions.append(Alert.raised_at >= filters.raised_from)
        if filters.raised_to is not None:
            conditions.append(Alert.raised_at < filters.raised_to)
        if after is not None:
            conditions.append(Alert.id < after)
        statement = (
            self.select_for_partner(partner_id)
            .where(*conditions)
            .order_by(Alert.id.desc())
            .limit(limit + 1)
        )
        return await self.list(statement)

    async def counts_by_detector(
        self, partner_id: uuid.UUID, raised_from: datetime | None, raised_to: datetime | None
    ) -> list[DetectorCounts]:
        """Per kind and rule, the alerts raised in the window by how they stand: one query."""
        resolution = Alert.resolution
        statement = (
            select(
                Alert.kind,
                Alert.rule,
                func.count().filter(resolution == AlertResolution.CONFIRMED.value),
                func.count().filter(resolution == AlertResolution.FALSE_POSITIVE.value),
                func.count().filter(Alert.status != AlertStatus.RESOLVED.value),
            )
            .where(Alert.partner_id == partner_id)
            .group_by(Alert.kind, Alert.rule)
            .order_by(Alert.kind, Alert.rule.asc().nulls_first())
        )
        if raised_from is not None:
            statement = statement.where(Alert.raised_at >= raised_from)
        if raised_to is not None:
            statement = statement.where(Alert.raised_at < raised_to)
        rows = await self.session.execute(statement)
        return [
            DetectorCounts(kind, rule, int(confirmed), int(false_positive), int(open_))
            for kind, rule, confirmed, false_positive, open_ in rows
        ]
