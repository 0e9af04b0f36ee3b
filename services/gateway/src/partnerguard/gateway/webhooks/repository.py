"""Queries for webhooks, their deliveries and attempts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.gateway.models import Webhook, WebhookAttempt, WebhookDelivery


async def enabled_filters(
    connection: AsyncConnection, partner_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    """The event-type filters of each partner's enabled webhooks (a partner with none is
    absent)."""
    statement = (
        select(Webhook.partner_id, func.jsonb_array_elements_text(Webhook.event_types))
        .where(Webhook.partner_id.in_(partner_ids), Webhook.status == "enabled")
        .distinct()
    )
    filters: dict[uuid.UUID, set[str]] = {}
    for partner_id, event_type in await connection.execute(statement):
        filters.setdefault(partner_id, set()).add(event_type)
    return filters


class WebhookRepository(Repository[Webhook]):
    model = Webhook

    async def page(
        self, partner_id: uuid.UUID, limit: int, after: uuid.UUID | None, status: str | None
    ) -> Sequence[Webhook]:
        statement = self.select_for_partner(partner_id).order_by(Webhook.id).limit(limit + 1)
        if after is not None:
            statement = statement.where(Webhook.id > after)
        if status is not None:
            statement = statement.where(Webhook.status == status)
        return await self.list(statement)

    async def get_for_update(self, partner_id: uuid.UUID, id_: uuid.UUID) -> Webhook | None:
        statement = (
            self.select_for_partner(partner_id)
            .where(Webhook.id == id_)
            # FOR NO KEY UPDATE: deliveries being inserted (their foreign key) need not wait.
            .with_for_update(key_share=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def enabled_ids_matching(
        self, partner_id: uuid.UUID, patterns: list[str]
    ) -> list[uuid.UUID]:
        """The partner's enabled webhooks whose filters hold any of ``patterns``."""
        statement = (
            select(Webhook.id)
            .where(
                Webhook.partner_id == partner_id,
                Webhook.status == "enabled",
                Webhook.event_types.has_any(array(patterns)),
            )
            .order_by(Webhook.id)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def lock_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Webhook]:
        """Lock webhooks (any partner: the delivery job) in id order, so two workers never wait
        on each other in a cycle."""
        statement = (
            select(Webhook)
            .where(Webhook.id.in_(sorted(ids)))
            .order_by(Webhook.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return {row.id: row for row in rows}

    async def remove(self, webhook: Webhook) -> None:
        await self.session.execute(delete(Webhook).where(Webhook.id == webhook.id))


class DeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    async def add_for_event(
        self,
        partner_id: uuid.UUID,
        webhook_ids: Sequence[uuid.UUID],
        *,
        event_id: uuid.UUID,
        event_type: str,
        body: str,
        now: datetime,
    ) -> int:
        """One pending delivery per webhook; an event already owed to a webhook adds nothing."""
        rows = [
            {
                "id": new_id(),
                "partner_id": partner_id,
                "webhook_id": webhook_id,
                "event_id": event_id,
                "event_type": event_type,
                "body": body,
                "status": "pending",
                "attempt_count": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in webhook_ids
        ]
        statement = (
            insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
            .returning(WebhookDelivery.id)
        )
        return len((await self.session.execute(statement)).all())

    async def page(
        self,
        partner_id: uuid.UUID,
        webhook_id: uuid.UUID,
        limit: int,
        before: uuid.UUID | None,
        status: str | None,
    ) -> Sequence[WebhookDelivery]:
        """Newest first (UUIDv7 ids are time-ordered); ``before`` is the last id of a page."""
        statement = (
            self.select_for_partner(partner_id)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            statement = statement.where(WebhookDelivery.id < before)
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status)
        return await self.list(statement)

    async def attempts_of(
        self, partner_id: uuid.UUID, delivery_ids: Sequence[uuid.UUID]
    ) -> Sequence[WebhookAttempt]:
        statement = (
            select(WebhookAttempt)
            .where(
                WebhookAttempt.partner_id == partner_id,
                WebhookAttempt.delivery_id.in_(delivery_ids),
            )
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def claim_due(
        self, now: datetime, limit: int
    ) -> Sequence[tuple[WebhookDelivery, Webhook]]:
        """Due deliveries of enabled webhooks (every partner), locked; rows another worker holds
        are skipped, not waited for."""
        statement = (
            select(WebhookDelivery, Webhook)
            .join(
                Webhook,
                (Webhook.id == WebhookDelivery.webhook_id)
                & (Webhook.partner_id == WebhookDelivery.partner_id),
            )
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                Webhook.status == "enabled",
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        rows = (await self.session.execute(statement)).all()
        return [(row[0], row[1]) for row in rows]

    async def lock_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookDelivery]:
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.id.in_(sorted(ids)))
            .order_by(WebhookDelivery.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return {row.id: row for row in rows}

    async def pause_pending(self, webhook_ids: Sequence[uuid.UUID]) -> None:
        """A disabled webhook's waiting deliveries wait until it is enabled again."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.webhook_id.in_(webhook_ids),
                WebhookDelivery.status == "pending",
            )
            .values(status="paused")
            .execution_options(synchronize_session=False)
        )

    async def resume_paused(self, webhook_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == "paused")
            .values(status="pending", next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        self.session.add(attempt)
