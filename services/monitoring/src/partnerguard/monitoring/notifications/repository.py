"""Queries for vendor notifications and the moves of their clock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import InstrumentedAttribute

from partnerguard.common.db.repository import Repository
from partnerguard.common.events.types.monitoring import NotificationStage
from partnerguard.monitoring.models import Notification, NotificationTransition
from partnerguard.monitoring.notifications.clock import STAGES, TIMED_STAGES, rank
from partnerguard.monitoring.notifications.schemas import NotificationFilters

_DEADLINE: dict[NotificationStage, InstrumentedAttribute[datetime]] = {
    NotificationStage.IN_REVIEW: Notification.review_by,
    NotificationStage.ACTIONED: Notification.action_by,
    NotificationStage.RESPONDED: Notification.respond_by,
}


def _past_due(stage: NotificationStage, now: datetime) -> ColumnElement[bool]:
    """The notice has not reached ``stage`` and its deadline has passed."""
    before = [s.value for s in STAGES if rank(s) < rank(stage)]
    return and_(Notification.status.in_(before), _DEADLINE[stage] < now)


def _behind(now: datetime) -> ColumnElement[bool]:
    return or_(*(_past_due(stage, now) for stage in TIMED_STAGES))


def _to_announce(now: datetime) -> ColumnElement[bool]:
    return or_(
        *(
            and_(
                _past_due(stage, now),
                not_(Notification.overdue_stages.contains([stage.value])),
            )
            for stage in TIMED_STAGES
        )
    )


class NotificationRepository(Repository[Notification]):
    model = Notification

    async def insert_new(self, values: dict[str, Any]) -> Notification | None:
        """Insert a notice; None when the partner already has its vendor reference (of two
        concurrent inserts one wins, and the loser's transaction stays usable)."""
        statement = (
            insert(Notification)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "vendor_reference"])
            .returning(Notification)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_reference(self, partner_id: uuid.UUID, reference: str) -> Notification | None:
        statement = (
            self.select_for_partner(partner_id)
            .where(Notification.vendor_reference == reference)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        filters: NotificationFilters,
        now: datetime,
        *,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Notification]:
        """Newest first (by id, which is time-ordered)."""
        conditions: list[ColumnElement[bool]] = []
        if filters.status is not None:
            conditions.append(Notification.status == filters.status.value)
        if filters.kind is not None:
            conditions.append(Notification.kind == filters.kind.value)
        if filters.customer_id is not None:
            conditions.append(Notification.customer_id == filters.customer_id)
        if filters.overdue is not None:
            conditions.append(_behind(now) if filters.overdue else not_(_behind(now)))
        if after is not None:
            conditions.append(Notification.id < after)
        statement = (
            self.select_for_partner(partner_id)
            .where(*conditions)
            .order_by(Notification.id.desc())
            .limit(limit + 1)
        )
        return await self.list(statement)

    async def transitions(
        self, partner_id: uuid.UUID, notification_id: uuid.UUID
    ) -> Sequence[NotificationTransition]:
        statement = (
            select(NotificationTransition)
            .where(
                NotificationTransition.partner_id == partner_id,
                NotificationTransition.notification_id == notification_id,
            )
            .order_by(NotificationTransition.at, NotificationTransition.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def add_transition(self, transition: NotificationTransition) -> NotificationTransition:
        self.session.add(transition)
        await self.session.flush()
        return transition

    async def claim_to_announce(self, now: datetime, limit: int) -> Sequence[Notification]:
        """Across partners (sweep role): up to ``limit`` notices with a stage past due and not
        announced yet, locked; notices another checker or a move holds are skipped."""
        statement = (
            select(Notification)
            .where(_to_announce(now))
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return await self.list(statement)
