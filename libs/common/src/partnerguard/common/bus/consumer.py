"""Durable JetStream pull consumers with an inbox, bounded redelivery and a dead-letter table.

A message is acknowledged only after its effect has committed. A failing handler is retried
with backoff (``nak`` with delay) up to ``max_deliver`` times; then the message is written to
``dead_letters`` with the error and terminated, and the consumer goes on with the next one.
A message that cannot be parsed is dead-lettered at once: retrying cannot fix it.

A consumer handles one message at a time unless its spec allows more (``concurrency``): then
the messages of a batch are handled at once, except that those about one customer of one
partner keep their order (a hold placed, then released, must not be seen the other way round).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import CloudEvent, Event
from partnerguard.common.ids import new_id
from partnerguard.common.inbox import record_once
from partnerguard.common.tables import DeadLetter
from partnerguard.common.tracing import bind_trace, clear_trace, new_traceparent, parse_traceparent

log = structlog.get_logger()

CONSUMER_PENDING = Gauge(
    "partnerguard_consumer_pending_messages",
    "Messages in the stream not yet delivered to this durable consumer (lag)",
    ["consumer"],
)
CONSUMER_HANDLED = Counter(
    "partnerguard_consumer_messages_total", "Messages handled, by outcome", ["consumer", "outcome"]
)
CONSUMER_SECONDS = Histogram(
    "partnerguard_consumer_handle_seconds", "Time to handle one message", ["consumer"]
)
DEAD_LETTERS = Counter(
    "partnerguard_dead_letters_total", "Messages given up on and dead-lettered", ["consumer"]
)

D = TypeVar("D", bound=EventData)
Handler = Callable[[AsyncSession, Event[Any]], Awaitable[None]]


# Which events of a pulled batch concern a consumer at all, asked once for the batch before any
# transaction is opened: given each event's (partner, type), whether it is wanted, in order.
Wanted = Callable[[Database, list[tuple[uuid.UUID, str]]], Awaitable[list[bool]]]


class Handlers:
    """The event handlers of one consumer: one small function per event type.

    ``wanted``, when given, is asked first, once for each pulled batch: an event it turns down
    is acknowledged without a transaction or an inbox record. It suits a consumer that acts on
    few of the events it reads (the gateway owes most events to no webhook): one cheap read a
    batch instead of a unit of work an event. It must answer from committed state only, as the
    handler would.
    """

    def __init__(self, wanted: Wanted | None = None) -> None:
        self._by_type: dict[str, tuple[type[EventData], Handler]] = {}
        self._wanted = wanted

    def on(
        self, model: type[D]
    ) -> Callable[[Callable[[AsyncSession, Event[D]], Awaitable[None]]], Callable[..., Any]]:
        def register(fn: Callable[[AsyncSession, Event[D]], Awaitable[None]]) -> Callable[..., Any]:
            self._by_type[model.event_type] = (model, fn)
            return fn

        return register

    def get(self, event_type: str) -> tuple[type[EventData], Handler] | None:
        return self._by_type.get(event_type)

    def subjects(self) -> list[str]:
        return sorted(model.definition().subject_pattern() for model, _ in self._by_type.values())

    def streams(self) -> set[str]:
        return {model.definition().stream for model, _ in self._by_type.values()}

    async def unwanted(self, db: Database, messages: list[Msg]) -> list[Msg]:
        """The messages of a batch that ``wanted`` turns down. One it cannot read as an event
        of a known type is kept for :meth:`handle` to ignore or dead-letter."""
        if self._wanted is None:
            return []
        addressed = [(msg, _peek_addressee(msg.data)) for msg in messages]
        askable = [
            (msg, addressee)
            for msg, addressee in addressed
            if addressee is not None and addressee[1] in self._by_type
        ]
        if not askable:
            return []
        answers = await self._wanted(db, [addressee for _, addressee in askable])
        return [msg for (msg, _), wanted in zip(askable, answers, strict=True) if not wanted]

    async def handle(self, db: Database, durable: str, msg: Msg) -> str:
        """Parse ``msg`` as a CloudEvent and run its handler once in effect (the inbox)."""
        try:
            envelope = CloudEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            raise PoisonMessage(f"not a CloudEvent: {exc.errors(include_url=False)}") from exc
        bind_trace(
            (parse_traceparent(envelope.traceparent) or new_traceparent()).child(),
            request_id=str(envelope.id),
        )
        entry = self.get(envelope.type)
        if entry is None:
            return "ignored"
        model, handler = entry
        try:
            data: BaseModel = model.model_validate(envelope.data)
        except ValidationError as exc:
            raise PoisonMessage(
                f"{envelope.type} data invalid: {exc.errors(include_url=False)}"
            ) from exc
        event: Event[Any] = Event(envelope=envelope, data=data)
        async with db.tenant_session(envelope.partnerid) as session:
            if not await record_once(session, durable, envelope.id):
                return "duplicate"
            await handler(session, event)
        return "handled"


class MessageHandler(Protocol):
    """What a consumer does with each message: CloudEvents through :class:`Handlers`, or a
    stream's own format (raw usage batches, say). Returns the outcome it counts as; raises
    :class:`PoisonMessage` for a message no retry can fix, anything else to be retried."""

    async def unwanted(self, db: Database, messages: list[Msg]) -> list[Msg]:
        """The messages of a pulled batch to acknowledge without handling them."""
        ...

    async def handle(self, db: Database, durable: str, msg: Msg) -> str: ...


class PoisonMessage(Exception):
    """A message that no number of retries will make handleable."""


@dataclass
class ConsumerSpec:
    durable: str
    stream: str
    subjects: list[str]
    max_deliver: int = 5
    # Delay before each redelivery after a failure; the last value repeats.
    backoff: list[float] = field(default_factory=lambda: [0.5, 2.0, 10.0, 30.0])
    ack_wait: float = 30.0
    batch: int = 100
    fetch_timeout: float = 1.0
    # Messages of a batch handled at once (each holds a database connection meanwhile).
    concurrency: int = 1
    # After the first message of a batch, how long to wait for more to fill it (0: take only
    # those already there). For a consumer whose work is cheaper by the batch than by the
    # message and whose events need not be acted on within that time.
    linger: float = 0.0

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=max(self.batch * 10, 1000),
            filter_subjects=self.subjects,
        )

    def delay(self, delivered: int) -> float:
        return self.backoff[min(delivered, len(self.backoff)) - 1]


# How long a pull waits for the rest of the messages the broker said were pending, when
# another replica takes some of them first.
_TOP_UP_SECONDS = 0.05


async def pull(
    sub: JetStreamContext.PullSubscription, batch: int, wait: float, linger: float = 0.0
) -> list[Msg]:
    """Up to ``batch`` messages: waits up to ``wait`` for the first, then takes only those the
    broker reported pending behind it (and any a past request left in the subscription's queue),
    or, given a ``linger``, those there after it. Raises nats-py's timeout when none came.

    Not ``fetch(batch)``: when its first request finds the consumer empty, nats-py keeps the
    messages that then arrive until the batch is full or ``wait`` has passed, so an idle
    consumer held each new burst for up to a second (seen as 1 s stalls at 100 alerts/s)."""
    first = await sub.fetch(1, timeout=wait)
    if linger > 0 and batch > 1:
        await asyncio.sleep(linger)
        behind = batch - 1
    else:
        behind = min(batch - 1, first[-1].metadata.num_pending + sub.pending_msgs)
    if behind < 1:
        return first
    try:
        return first + await sub.fetch(behind, timeout=_TOP_UP_SECONDS)
    except (NatsTimeoutError, TimeoutError):
        return first


class EventConsumer:
    """Pulls batches from one durable consumer and handles each message once in effect."""

    def __init__(
        self, bus: EventBus, db: Database, spec: ConsumerSpec, handlers: MessageHandler
    ) -> None:
        self.bus = bus
        self.db = db
        self.spec = spec
        self.handlers = handlers

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and handle until ``stop`` is set; the batch in hand is finished first."""
        # Create or update the durable consumer: every replica may do it at every start.
        await self.bus.js.add_consumer(self.spec.stream, self.spec.config())
        sub = await self.bus.js.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.spec.stream
        )
        log.info("consumer.started", consumer=self.spec.durable, subjects=self.spec.subjects)
        while not stop.is_set():
            try:
                messages = await pull(
                    sub, self.spec.batch, self.spec.fetch_timeout, self.spec.linger
                )
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:
                log.warning("consumer.fetch_failed", consumer=self.spec.durable, error=repr(exc))
                await _sleep_unless(stop, 1.0)
                continue
            await self.process_batch(messages)
            if messages:
                CONSUMER_PENDING.labels(self.spec.durable).set(messages[-1].metadata.num_pending)
        await sub.unsubscribe()
        log.info("consumer.stopped", consumer=self.spec.durable)

    async def lag(self) -> int:
        info = await self.bus.js.consumer_info(self.spec.stream, self.spec.durable)
        pending = int(info.num_pending or 0)
        CONSUMER_PENDING.labels(self.spec.durable).set(pending)
        return pending

    async def process_batch(self, messages: list[Msg]) -> None:
        """Handle a pulled batch: what the handlers do not want is acknowledged at once."""
        unwanted = await self._screen(messages)
        if unwanted:
            messages = [msg for msg in messages if id(msg) not in unwanted]
        if self.spec.concurrency <= 1:
            for msg in messages:
                await self.process(msg)
            return
        lanes: dict[str, list[Msg]] = {}
        for msg in messages:
            lanes.setdefault(ordering_key(msg), []).append(msg)
        gate = asyncio.Semaphore(self.spec.concurrency)

        async def in_order(lane: list[Msg]) -> None:
            async with gate:
                for msg in lane:
                    await self.process(msg)

        async with asyncio.TaskGroup() as group:
            for lane in lanes.values():
                group.create_task(in_order(lane))

    async def _screen(self, messages: list[Msg]) -> set[int]:
        """Acknowledge the messages the handlers turn down; the ``id`` of each. If the answer
        cannot be had (the database is away), none is turned down: each is handled, and
        retried, as usual."""
        try:
            unwanted = await self.handlers.unwanted(self.db, messages)
        except Exception as exc:
            log.warning("consumer.screen_failed", consumer=self.spec.durable, error=repr(exc))
            return set()
        for msg in unwanted:
            await msg.ack()
            CONSUMER_HANDLED.labels(self.spec.durable, "ignored").inc()
        return {id(msg) for msg in unwanted}

    async def process(self, msg: Msg) -> None:
        delivered = msg.metadata.num_delivered
        with CONSUMER_SECONDS.labels(self.spec.durable).time():
            try:
                await self._handle(msg)
            except PoisonMessage as exc:
                await self._dead_letter(msg, str(exc), delivered)
                return
            except Exception as exc:
                if delivered >= self.spec.max_deliver:
                    await self._dead_letter(msg, repr(exc), delivered)
                    return
                log.warning(
                    "consumer.retry",
                    consumer=self.spec.durable,
                    delivered=delivered,
                    error=repr(exc),
                )
                CONSUMER_HANDLED.labels(self.spec.durable, "retried").inc()
                await msg.nak(delay=self.spec.delay(delivered))
                return
            finally:
                clear_trace()
        await msg.ack()

    async def _handle(self, msg: Msg) -> None:
        outcome = await self.handlers.handle(self.db, self.spec.durable, msg)
        CONSUMER_HANDLED.labels(self.spec.durable, outcome).inc()

    async def _dead_letter(self, msg: Msg, error: str, delivered: int) -> None:
        event_id, event_type = _peek_ids(msg.data)
        try:
            async with self.db.session() as session:
                session.add(
                    DeadLetter(
                        id=new_id(),
                        consumer=self.spec.durable,
                        stream=msg.metadata.stream,
                        stream_seq=msg.metadata.sequence.stream,
                        subject=msg.subject,
                        event_id=event_id,
                        event_type=event_type,
                        data=msg.data.decode("utf-8", errors="replace"),
                        error=error[:4000],
                        deliveries=delivered,
                    )
                )
        except Exception as exc:
            # The record could not be written: keep the message rather than lose it.
            log.error("consumer.dead_letter_failed", consumer=self.spec.durable, error=repr(exc))
            await msg.nak(delay=self.spec.delay(len(self.spec.backoff)))
            return
        log.error(
            "consumer.dead_lettered",
            consumer=self.spec.durable,
            subject=msg.subject,
            event_id=event_id,
            error=error[:500],
        )
        DEAD_LETTERS.labels(self.spec.durable).inc()
        CONSUMER_HANDLED.labels(self.spec.durable, "dead_lettered").inc()
        await msg.term()


def ordering_key(msg: Msg) -> str:
    """What a message must keep its order within: a CloudEvent's partner and customer (events
    about no customer share their partner's lane); for a message that is not JSON, its subject
    (such messages are dead-lettered in the order they came)."""
    try:
        body = json.loads(msg.data)
    except ValueError:
        return msg.subject
    if not isinstance(body, dict):
        return msg.subject
    return f"{body.get('partnerid')}/{body.get('customerid') or ''}"


def _peek_addressee(data: bytes) -> tuple[uuid.UUID, str] | None:
    """The partner and type of a message, if it names both."""
    try:
        body = json.loads(data)
        return uuid.UUID(str(body["partnerid"])), str(body["type"])
    except (ValueError, TypeError, KeyError):
        return None


def _peek_ids(data: bytes) -> tuple[str | None, str | None]:
    """Best-effort id and type of a message that may not be a valid event."""
    try:
        body = json.loads(data)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    event_id, event_type = body.get("id"), body.get("type")
    try:
        uuid.UUID(str(event_id))
    except ValueError:
        event_id = None
    return (str(event_id) if event_id else None, str(event_type) if event_type else None)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
