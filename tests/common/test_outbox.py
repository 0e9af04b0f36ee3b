"""Outbox → JetStream → consumer with inbox: at-least-once delivery, exactly-once effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.cli.embedded import EmbeddedNats
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer, Handlers, Wanted
from partnerguard.common.db.engine import Database
from partnerguard.common.events.envelope import Event
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import OutboxRelay, emit
from partnerguard.common.tables import DeadLetter, OutboxEvent
from tests.support.widgets import Widget, WidgetCreated, WidgetEffect


async def create_widgets(
    db: Database, partner_id: uuid.UUID, count: int, *, aggregate: str | None = None
) -> list[uuid.UUID]:
    """Create ``count`` widgets in one committed transaction, each emitting an event."""
    ids = []
    async with db.tenant_session(partner_id) as session:
        for seq in range(count):
            widget = Widget(id=new_id(), partner_id=partner_id, name=f"w{seq}")
            session.add(widget)
            await emit(
                session,
                WidgetCreated(widget_id=widget.id, name=widget.name, seq=seq),
                partner_id=partner_id,
                subject=widget.id,
                aggregate_key=aggregate,
            )
            ids.append(widget.id)
    return ids


def recording_handlers(
    seen: list[WidgetCreated],
    fail: Callable[[WidgetCreated], bool] = lambda _: False,
    wanted: Wanted | None = None,
) -> Handlers:
    handlers = Handlers(wanted=wanted)

    @handlers.on(WidgetCreated)
    async def record(session: AsyncSession, event: Event[WidgetCreated]) -> None:
        if fail(event.data):
            raise RuntimeError(f"cannot handle widget {event.data.seq}")
        session.add(
            WidgetEffect(
                id=new_id(),
                partner_id=event.partner_id,
                widget_id=event.data.widget_id,
                seq=event.data.seq,
            )
        )
        seen.append(event.data)

    return handlers


def consumer_for(
    bus: EventBus, db: Database, partner_id: uuid.UUID, handlers: Handlers, **spec: object
) -> EventConsumer:
    durable = f"test-{partner_id.hex[:12]}-{uuid.uuid4().hex[:6]}"
    return EventConsumer(
        bus,
        db,
        ConsumerSpec(
            durable=durable,
            stream="ONBOARDING",
            subjects=[f"onboarding.{partner_id}.>"],
            fetch_timeout=0.2,
            **spec,  # type: ignore[arg-type]
        ),
        handlers,
    )


async def until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.05)


async def effect_count(db: Database, partner_id: uuid.UUID) -> int:
    async with db.tenant_session(partner_id) as session:
        return int(await session.scalar(select(func.count()).select_from(WidgetEffect)) or 0)


async def stream_count(bus: EventBus, partner_id: uuid.UUID) -> int:
    info = await bus.js.stream_info("ONBOARDING", subjects_filter=f"onboarding.{partner_id}.>")
    return sum((info.state.subjects or {}).values())


async def run_consumer_until(
    consumer: EventConsumer, done: Callable[[], Awaitable[bool]], within: float = 15.0
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(done, within)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_committed_event_is_delivered_and_takes_effect_once(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    [widget_id] = await create_widgets(db, partner_id, 1)
    relay = OutboxRelay(db, bus, service="test")
    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0

    seen: list[WidgetCreated] = []
    consumer = consumer_for(bus, db, partner_id, recording_handlers(seen))
    await run_consumer_until(consumer, lambda: _true(len(seen) == 1))
    assert seen[0].widget_id == widget_id

    # The broker redelivers the same event (a lost ack): the inbox keeps the effect single.
    async with db.sweep_session() as session:
        envelope = await session.scalar(
            select(text("envelope::text")).select_from(OutboxEvent.__table__)
        )
    await bus.publish(f"onboarding.{partner_id}.widget.created", envelope.encode(), msg_id="again")
    await run_consumer_until(consumer, lambda: _true(True), within=0.5)
    await asyncio.sleep(0.5)
    assert await effect_count(db, partner_id) == 1


async def test_event_of_rolled_back_transaction_never_leaves(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    async def refused_change() -> None:
        async with db.tenant_session(partner_id) as session:
            await emit(
                session,
                WidgetCreated(widget_id=uuid.uuid4(), name="never"),
                partner_id=partner_id,
            )
            await session.flush()
            raise RuntimeError("business rule refused the change")

    with pytest.raises(RuntimeError, match="business rule"):
        await refused_change()

    relay = OutboxRelay(db, bus, service="test")
    assert await relay.relay_once() == 0
    assert await stream_count(bus, partner_id) == 0


class CrashAfterPublish:
    """Publishes for real, then dies like a killed process before the relay marks anything."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.js = bus.js

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> None:
        await self.bus.publish(subject, payload, msg_id=msg_id)
        raise asyncio.CancelledError  # not an Exception: nothing in the relay handles it


async def test_relay_killed_between_publish_and_mark_sends_again_without_duplicates(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    await create_widgets(db, partner_id, 3)
    crashing = OutboxRelay(db, CrashAfterPublish(bus), service="test")  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        await crashing.relay_once()
    assert await stream_count(bus, partner_id) == 1

    # After the "restart" every event goes again; the broker drops the one already stored.
    assert await OutboxRelay(db, bus, service="test").relay_once() == 3
    assert await stream_count(bus, partner_id) == 3

    seen: list[WidgetCreated] = []
    consumer = consumer_for(bus, db, partner_id, recording_handlers(seen))
    await run_consumer_until(consumer, lambda: _true(len(seen) == 3))
    assert await effect_count(db, partner_id) == 3


async def test_changes_committed_while_nats_is_down_all_arrive_in_order(
    db: Database, nats_server: EmbeddedNats, partner_id: uuid.UUID
) -> None:
    relay_bus = await EventBus.connect(nats_server.url, name="outage-relay")
    try:
        stop = asyncio.Event()
        relay = OutboxRelay(db, relay_bus, service="test", max_backoff=0.5)
        relay_task = asyncio.create_task(relay.run(stop))

        nats_server.stop()
        try:
            for batch in range(4):
                await create_widgets(db, partner_id, 5, aggregate=f"agg-{batch % 2}")
            await asyncio.sleep(1.0)
            async with db.sweep_session() as session:
                pending = await session.scalar(
                    select(func.count()).where(OutboxEvent.status == "pending")
                )
            assert pending == 20  # nothing was lost, nothing marked sent
        finally:
            nats_server.start()

        consumer_bus = await EventBus.connect(nats_server.url, name="outage-consumer")
        try:
            seen: list[WidgetCreated] = []
            consumer = consumer_for(consumer_bus, db, partner_id, recording_handlers(seen))
            await run_consumer_until(consumer, lambda: _true(len(seen) == 20), within=30)
        finally:
            await consumer_bus.close()
        stop.set()
        await asyncio.wait_for(relay_task, 10)
    finally:
        await relay_bus.close()

    assert await effect_count(db, partner_id) == 20
    await assert_delivered_in_write_order(db, seen, ("agg-0", "agg-1"))


async def assert_delivered_in_write_order(
    db: Database, seen: list[WidgetCreated], aggregates: tuple[str, ...]
) -> None:
    """Per aggregate, the order the consumer saw equals the order the outbox was written."""
    async with db.sweep_session() as session:
        rows = (
            await session.execute(
                select(OutboxEvent.aggregate_key, text("envelope->'data'->>'widget_id'")).order_by(
                    OutboxEvent.seq
                )
            )
        ).all()
    position = {event.widget_id: index for index, event in enumerate(seen)}
    for key in aggregates:
        positions = [position[uuid.UUID(row[1])] for row in rows if row[0] == key]
        assert positions, f"nothing written for {key}"
        assert positions == sorted(positions), f"{key} delivered out of order"


async def test_two_relays_keep_each_aggregate_in_order(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    for batch in range(10):
        await create_widgets(db, partner_id, 10, aggregate=f"agg-{batch % 3}")
    relays = [OutboxRelay(db, bus, service="test", batch_size=7) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> None:
        sent = await relay.relay_once()
        while sent:
            sent = await relay.relay_once()

    await asyncio.gather(*(drain(relay) for relay in relays))
    assert await stream_count(bus, partner_id) == 100

    seen: list[WidgetCreated] = []
    consumer = consumer_for(bus, db, partner_id, recording_handlers(seen))
    await run_consumer_until(consumer, lambda: _true(len(seen) == 100))
    await assert_delivered_in_write_order(db, seen, ("agg-0", "agg-1", "agg-2"))


async def test_poison_message_is_dead_lettered_and_consumer_serves_the_next(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    await create_widgets(db, partner_id, 3)
    await OutboxRelay(db, bus, service="test").relay_once()
    await bus.publish(f"onboarding.{partner_id}.widget.created", b"{not json", msg_id=str(new_id()))

    seen: list[WidgetCreated] = []
    consumer = consumer_for(
        bus,
        db,
        partner_id,
        recording_handlers(seen, fail=lambda data: data.seq == 1),
        max_deliver=3,
        backoff=[0.05, 0.1],
    )

    async def two_dead_letters() -> bool:
        async with db.session() as session:
            return (await session.scalar(select(func.count()).select_from(DeadLetter))) == 2

    await run_consumer_until(consumer, two_dead_letters)
    assert sorted(event.seq for event in seen) == [0, 2]
    async with db.session() as session:
        letters = (await session.scalars(select(DeadLetter).order_by(DeadLetter.created_at))).all()
    by_kind = {("handler" if letter.event_type else "parse"): letter for letter in letters}
    assert "cannot handle widget 1" in by_kind["handler"].error
    assert by_kind["handler"].deliveries == 3
    assert "not a CloudEvent" in by_kind["parse"].error
    assert by_kind["parse"].data == "{not json"


async def _true(value: bool) -> bool:
    return value


async def test_a_concurrent_consumer_keeps_each_customers_order(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    """With ``concurrency``, events about different customers are handled at once, and those
    about one customer one after the other, in the order they were emitted."""
    customers = [uuid.uuid4() for _ in range(4)]
    async with db.tenant_session(partner_id) as session:
        for seq in range(3):
            for customer in customers:
                widget = Widget(id=new_id(), partner_id=partner_id, name=f"{customer}:{seq}")
                session.add(widget)
                await emit(
                    session,
                    WidgetCreated(widget_id=widget.id, name=widget.name, seq=seq),
                    partner_id=partner_id,
                    subject=widget.id,
                    customer_id=customer,
                    aggregate_key=str(customer),
                )
    await OutboxRelay(db, bus, service="test").relay_once()

    handled: dict[uuid.UUID, list[int]] = {customer: [] for customer in customers}
    in_flight: dict[uuid.UUID, int] = dict.fromkeys(customers, 0)
    most_at_once = 0
    handlers = Handlers()

    @handlers.on(WidgetCreated)
    async def slow(session: AsyncSession, event: Event[WidgetCreated]) -> None:
        nonlocal most_at_once
        customer = event.customer_id
        assert customer is not None
        in_flight[customer] += 1
        assert in_flight[customer] == 1, "two events of one customer handled at once"
        most_at_once = max(most_at_once, sum(in_flight.values()))
        await asyncio.sleep(0.05)
        handled[customer].append(event.data.seq)
        in_flight[customer] -= 1

    consumer = consumer_for(bus, db, partner_id, handlers, concurrency=4)
    await run_consumer_until(
        consumer, lambda: _true(sum(len(seqs) for seqs in handled.values()) == 12)
    )

    assert handled == {customer: [0, 1, 2] for customer in customers}
    assert most_at_once > 1


def two_partner_consumer(
    bus: EventBus, db: Database, partners: list[uuid.UUID], handlers: Handlers
) -> EventConsumer:
    return EventConsumer(
        bus,
        db,
        ConsumerSpec(
            durable=f"test-screen-{uuid.uuid4().hex[:12]}",
            stream="ONBOARDING",
            subjects=[f"onboarding.{partner}.>" for partner in partners],
            fetch_timeout=0.2,
        ),
        handlers,
    )


async def consumer_drained(bus: EventBus, consumer: EventConsumer) -> bool:
    try:
        info = await bus.js.consumer_info(consumer.spec.stream, consumer.spec.durable)
    except NotFoundError:  # not created yet
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_events_the_consumer_does_not_want_are_acknowledged_unhandled_asked_by_batch(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    await create_widgets(db, partner_id, 3)
    await create_widgets(db, other, 3)
    await OutboxRelay(db, bus, service="test").relay_once()
    asked: list[list[tuple[uuid.UUID, str]]] = []

    async def only_the_first_partner(
        _: Database, events: list[tuple[uuid.UUID, str]]
    ) -> list[bool]:
        asked.append(events)
        return [partner == partner_id for partner, _ in events]

    seen: list[WidgetCreated] = []
    handlers = recording_handlers(seen, wanted=only_the_first_partner)
    consumer = two_partner_consumer(bus, db, [partner_id, other], handlers)
    await run_consumer_until(consumer, lambda: consumer_drained(bus, consumer))

    assert sorted(event.seq for event in seen) == [0, 1, 2]
    assert await effect_count(db, partner_id) == 3
    assert await effect_count(db, other) == 0  # turned down: no transaction, no effect
    assert sum(len(events) for events in asked) == 6
    assert len(asked) < 6, "asked once an event, not once a batch"
    assert {(partner, kind) for events in asked for partner, kind in events} == {
        (partner_id, "onboarding.widget.created"),
        (other, "onboarding.widget.created"),
    }


async def test_when_the_screen_fails_every_event_is_handled_and_a_bad_one_dead_lettered(
    db: Database, bus: EventBus, partner_id: uuid.UUID
) -> None:
    await create_widgets(db, partner_id, 2)
    await OutboxRelay(db, bus, service="test").relay_once()
    await bus.publish(f"onboarding.{partner_id}.widget.created", b"[1, 2]", msg_id=str(new_id()))

    async def unavailable(_: Database, events: list[tuple[uuid.UUID, str]]) -> list[bool]:
        raise ConnectionError("the database is away")

    seen: list[WidgetCreated] = []
    handlers = recording_handlers(seen, wanted=unavailable)
    consumer = consumer_for(bus, db, partner_id, handlers)
    await run_consumer_until(consumer, lambda: consumer_drained(bus, consumer))

    assert sorted(event.seq for event in seen) == [0, 1]
    async with db.session() as session:
        letters = (await session.scalars(select(DeadLetter))).all()
    assert [letter.data for letter in letters if letter.consumer == consumer.spec.durable] == [
        "[1, 2]"
    ]
