"""Events in tests: what a service wrote to its outbox, and real NATS delivery to a consumer."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer
from partnerguard.common.db.engine import Database
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import CloudEvent
from partnerguard.common.runtime import Consumer


async def outbox_events(
    db: Database, partner_id: uuid.UUID, event_type: str | None = None
) -> list[dict[str, Any]]:
    query = "SELECT envelope FROM outbox_events WHERE partner_id = :p"
    params: dict[str, Any] = {"p": partner_id}
    if event_type is not None:
        query += " AND event_type = :t"
        params["t"] = event_type
    async with db.sweep_session() as session:
        rows = await session.execute(text(query + " ORDER BY seq"), params)
        return [row[0] for row in rows]


async def deliver(
    bus: EventBus,
    db: Database,
    consumer: Consumer,
    data: EventData,
    *,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> CloudEvent:
    """Publish ``data`` on NATS as another service would, then let ``consumer``'s handlers take
    it through the real consumer path (inbox, dead letters), on a durable of this partner's own.
    Delivering the same ``event_id`` twice is a redelivery."""
    definition = data.definition()
    envelope = CloudEvent(
        source=f"urn:partnerguard:{definition.domain}",
        type=definition.type,
        data=data.model_dump(mode="json"),
        partnerid=partner_id,
        customerid=customer_id,
        **({"id": event_id} if event_id is not None else {}),
    )
    subject = definition.subject(partner_id)
    # A fresh Nats-Msg-Id per delivery, so a deliberate redelivery is not dropped by the broker.
    await bus.publish(subject, envelope.model_dump_json().encode(), msg_id=str(uuid.uuid4()))
    spec = ConsumerSpec(
        durable=f"{consumer.spec.durable}-{partner_id.hex[:12]}",
        stream=definition.stream,
        subjects=[subject],
        max_deliver=consumer.spec.max_deliver,
        backoff=[0.01],
    )
    worker = EventConsumer(bus, db, spec, consumer.handlers)
    await bus.js.add_consumer(spec.stream, spec.config())
    sub = await bus.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        for msg in await sub.fetch(1, timeout=5):
            await worker.process(msg)
    finally:
        await sub.unsubscribe()
    return envelope
