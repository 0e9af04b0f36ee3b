"""Usage over the USAGE stream: the same checks as HTTP, refusals kept, bad messages dead-lettered."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer
from partnerguard.common.db.engine import Database
from partnerguard.monitoring.settings import MonitoringSettings
from partnerguard.monitoring.usage.stream import UsageBatches, usage_subject
from tests.support.monitoring import RunningMonitoring, usage_record

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def _publish_and_handle(
    bus: EventBus,
    db: Database,
    settings: MonitoringSettings,
    subject: str,
    bodies: list[bytes],
    *,
    msg_ids: list[str] | None = None,
) -> None:
    """Publish ``bodies`` on ``subject`` and let the usage handler take them through the real
    consumer path (on a durable of this subject's own)."""
    durable = f"usage-test-{uuid.uuid4().hex[:12]}"
    spec = ConsumerSpec(
        durable=durable, stream="USAGE", subjects=[subject], max_deliver=2, backoff=[0.01]
    )
    for index, body in enumerate(bodies):
        msg_id = msg_ids[index] if msg_ids else str(uuid.uuid4())
        await bus.publish(subject, body, msg_id=msg_id)
    worker = EventConsumer(bus, db, spec, UsageBatches(settings))
    await bus.js.add_consumer(spec.stream, spec.config())
    sub = await bus.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        for msg in await sub.fetch(len(bodies), timeout=5):
            await worker.process(msg)
    finally:
        await sub.unsubscribe()


async def _count(db: Database, query: str, **params: Any) -> Any:
    async with db.sweep_session() as session:
        return (await session.execute(text(query), params)).scalar_one()


async def test_a_stream_batch_is_stored_like_an_http_one(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    records = [usage_record(customer, T0 + timedelta(hours=i), "2.5") for i in range(3)]

    await _publish_and_handle(
        bus,
        monitoring.db,
        monitoring.settings,
        usage_subject(partner_id),
        [json.dumps({"records": records}).encode()],
    )

    assert await _count(monitoring.db, "SELECT count(*) FROM usage_records") == 3
    assert await _count(monitoring.db, "SELECT sum(cost) FROM customer_days") == 7.5
    assert await _count(monitoring.db, "SELECT DISTINCT partner_id FROM usage_records") == (
        partner_id
    )


async def test_refused_stream_records_are_kept_with_why_and_listed(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    good = usage_record(customer, T0)
    bad = {**usage_record(customer, T0), "cost": "lots"}
    body = json.dumps({"records": [good, bad]}).encode()

    # Delivered twice (a redelivery after a lost ack): nothing counts twice.
    await _publish_and_handle(
        bus,
        monitoring.db,
        monitoring.settings,
        usage_subject(partner_id),
        [body, body],
        msg_ids=["feed-batch-1", "feed-batch-1-again"],
    )

    assert await _count(monitoring.db, "SELECT count(*) FROM usage_records") == 1
    response = await monitoring.http.get(
        "/v1/monitoring/usage/rejections", headers=monitoring.headers(partner_id)
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["batch"], i["position"], i["record_id"]) for i in items] == [
        ("feed-batch-1", 1, bad["record_id"]),
        ("feed-batch-1-again", 1, bad["record_id"]),
    ]
    assert items[0]["errors"][0]["loc"] == ["cost"]
    other = await monitoring.http.get(
        "/v1/monitoring/usage/rejections", headers=monitoring.headers(uuid.uuid4())
    )
    assert other.json()["items"] == []


async def test_a_message_that_is_not_a_batch_is_dead_lettered_with_the_reason(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID
) -> None:
    await _publish_and_handle(
        bus,
        monitoring.db,
        monitoring.settings,
        usage_subject(partner_id),
        [b"{not json", json.dumps({"rows": []}).encode()],
    )

    async with monitoring.db.session() as session:
        letters = (
            await session.execute(text("SELECT consumer, error FROM dead_letters ORDER BY id"))
        ).all()
    assert len(letters) == 2
    assert "not JSON" in letters[0].error
    assert "records" in letters[1].error
    assert await _count(monitoring.db, "SELECT count(*) FROM usage_records") == 0


async def test_a_stream_record_holding_a_nul_character_is_refused_alone(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    good = usage_record(customer, T0)
    nul = {**usage_record(customer, T0), "meter": "D2s\u0000v5"}
    await _publish_and_handle(
        bus,
        monitoring.db,
        monitoring.settings,
        usage_subject(partner_id),
        [json.dumps({"records": [good, nul]}).encode()],
        msg_ids=["feed-with-nul"],
    )

    assert await _count(monitoring.db, "SELECT count(*) FROM usage_records") == 1
    response = await monitoring.http.get(
        "/v1/monitoring/usage/rejections", headers=monitoring.headers(partner_id)
    )
    (item,) = response.json()["items"]
    assert (item["position"], item["record_id"]) == (1, nul["record_id"])
    assert item["errors"][0]["loc"] == ["meter"]
