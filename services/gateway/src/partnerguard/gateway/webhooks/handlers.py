"""Event consumers: every partner event of the domain streams is owed to that partner's
matching webhooks. One durable consumer per stream (a durable belongs to one stream)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.db.engine import Database
from partnerguard.common.events import Event
from partnerguard.common.runtime import Consumer
from partnerguard.gateway.webhooks.filters import (
    WEBHOOK_STREAMS,
    deliverable_types,
    patterns_matching,
)
from partnerguard.gateway.webhooks.repository import enabled_filters
from partnerguard.gateway.webhooks.service import record_deliveries


async def owed_to_any_webhook(db: Database, events: list[tuple[uuid.UUID, str]]) -> list[bool]:
    """Most events are owed to no webhook: one read for a batch, not a unit of work for each
    event, tells."""
    async with db.sweep_reads() as connection:
        filters = await enabled_filters(connection, {partner_id for partner_id, _ in events})
    return [
        not filters.get(partner_id, set()).isdisjoint(patterns_matching(event_type))
        for partner_id, event_type in events
    ]


async def owe_to_webhooks(session: AsyncSession, event: Event[Any]) -> None:
    await record_deliveries(session, event.envelope)


def webhook_consumers() -> list[Consumer]:
    """``gateway-webhooks-<stream>`` for each stream, handling every catalog type in it."""
    consumers = []
    for stream in WEBHOOK_STREAMS:
        handlers = Handlers(wanted=owed_to_any_webhook)
        for definition in deliverable_types():
            if definition.stream == stream:
                handlers.on(definition.model)(owe_to_webhooks)
        if not handlers.subjects():
            continue
        spec = ConsumerSpec(
            durable=f"gateway-webhooks-{stream.lower()}",
            stream=stream,
            subjects=handlers.subjects(),
            # Writing delivery rows fails only while the database does: keep trying for
            # about half an hour before a message is dead-lettered.
            max_deliver=12,
            backoff=[1.0, 5.0, 30.0, 60.0, 300.0],
            # A tenth of a second is nothing to a webhook, and under load it makes the screen
            # one read (and the pull one request) for tens of events instead of each.
            linger=0.1,
        )
        consumers.append(Consumer(spec, handlers))
    return consumers
