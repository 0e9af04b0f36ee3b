"""Pulling from a durable consumer: an idle consumer hands over each new message at once, a
busy one takes what is waiting in batches, and nothing is skipped or handed over twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.client import JetStreamContext

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import pull


@pytest.fixture
async def subject(bus: EventBus) -> str:
    return f"onboarding.{uuid.uuid4()}.pulled"


@pytest.fixture
async def sub(bus: EventBus, subject: str) -> AsyncIterator[JetStreamContext.PullSubscription]:
    durable = f"pull-{uuid.uuid4().hex[:12]}"
    await bus.js.add_consumer(
        "ONBOARDING",
        ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subjects=[subject]
        ),
    )
    subscription = await bus.js.pull_subscribe_bind(durable=durable, stream="ONBOARDING")
    yield subscription
    await subscription.unsubscribe()
    await bus.js.delete_consumer("ONBOARDING", durable)


async def publish(bus: EventBus, subject: str, bodies: list[str]) -> None:
    for body in bodies:
        await bus.publish(subject, body.encode(), msg_id=f"{subject}:{body}")


async def test_an_idle_consumer_hands_over_a_new_message_at_once_not_after_the_wait(
    bus: EventBus, subject: str, sub: JetStreamContext.PullSubscription
) -> None:
    for n in range(5):
        waiting = asyncio.create_task(pull(sub, 100, wait=5.0))
        await asyncio.sleep(0.1)  # the pull is waiting on an empty consumer
        published = time.monotonic()
        await publish(bus, subject, [f"m{n}"])
        messages = await waiting
        taken = time.monotonic() - published
        assert [m.data for m in messages] == [f"m{n}".encode()]
        assert taken < 0.5, f"held {taken:.2f} s for a batch that was never coming"
        for message in messages:
            await message.ack()


async def test_a_backlog_is_taken_in_batches_in_order_each_message_once(
    bus: EventBus, subject: str, sub: JetStreamContext.PullSubscription
) -> None:
    bodies = [f"m{n:02}" for n in range(25)]
    await publish(bus, subject, bodies)
    started = time.monotonic()
    batches = []
    while sum(map(len, batches)) < len(bodies):
        messages = await pull(sub, 10, wait=5.0)
        for message in messages:
            await message.ack()
        batches.append(messages)
    assert time.monotonic() - started < 1.0
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [m.data.decode() for b in batches for m in b] == bodies
    with pytest.raises((NatsTimeoutError, TimeoutError)):
        await pull(sub, 10, wait=0.3)


async def test_a_batch_of_one_takes_one(
    bus: EventBus, subject: str, sub: JetStreamContext.PullSubscription
) -> None:
    await publish(bus, subject, ["a", "b"])
    first = await pull(sub, 1, wait=5.0)
    second = await pull(sub, 1, wait=5.0)
    assert [m.data for m in first + second] == [b"a", b"b"]


async def test_a_lingering_pull_gathers_what_arrives_just_after_the_first_into_one_batch(
    bus: EventBus, subject: str, sub: JetStreamContext.PullSubscription
) -> None:
    async def trickle(prefix: str = "m") -> None:
        for n in range(6):
            await publish(bus, subject, [f"{prefix}{n}"])
            await asyncio.sleep(0.02)

    feeding = asyncio.create_task(trickle())
    lingering = await pull(sub, 100, wait=5.0, linger=0.4)
    await feeding
    assert [m.data.decode() for m in lingering] == [f"m{n}" for n in range(6)]

    # Without a linger, the same trickle is taken as it comes: the first message alone.
    for message in lingering:
        await message.ack()
    feeding = asyncio.create_task(trickle("again"))
    eager = await pull(sub, 100, wait=5.0)
    await feeding
    assert len(eager) < 6
