"""Transactional outbox: events are written with the change that caused them and relayed later.

Writers call :func:`emit` inside their unit of work. The :class:`OutboxRelay` claims pending rows
by *status* with ``FOR UPDATE SKIP LOCKED`` (never by ``id > last_seen``, which would skip a row
whose transaction commits late), publishes them with ``Nats-Msg-Id`` = event id, and marks them
sent in the same transaction. A crash between publish and mark re-publishes; the broker drops
the duplicate and consumers' inboxes drop anything older. Each aggregate's events go out in the
order they were written: a relay takes a transaction-scoped advisory lock per aggregate, so two
relays never interleave one aggregate.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import CloudEvent
from partnerguard.common.tables import OutboxEvent
from partnerguard.common.tracing import current_traceparent

log = structlog.get_logger()

OUTBOX_PUBLISHED = Counter(
    "partnerguard_outbox_published_total", "Events relayed from the outbox to NATS", ["service"]
)
OUTBOX_FAILURES = Counter(
    "partnerguard_outbox_publish_failures_total", "Failed outbox publish attempts", ["service"]
)
OUTBOX_PENDING = Gauge(
    "partnerguard_outbox_pending", "Outbox events waiting to be relayed", ["service"]
)

# Namespace for pg advisory locks taken per aggregate by the relay.
_RELAY_LOCK_SPACE = 0x0B0C

_CLAIM = text(
    """
    SELECT id, subject, envelope::text AS envelope
    FROM outbox_events
    WHERE status = 'pending'
      AND pg_try_advisory_xact_lock(:space, hashtext(aggregate_key))
    ORDER BY seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_MARK_SENT = text(
    "UPDATE outbox_events SET status = 'sent', sent_at = now(), attempts = attempts + 1 "
    "WHERE id = ANY(:ids)"
)
_MARK_FAILED = text(
    "UPDATE outbox_events SET attempts = attempts + 1, last_error = :error WHERE id = :id"
)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An event ready for the outbox table: the values of one ``outbox_events`` row."""

    id: uuid.UUID
    partner_id: uuid.UUID
    aggregate_key: str
    subject: str
    event_type: str
    envelope: dict[str, Any]


def outbox_entry(
    data: EventData,
    *,
    partner_id: uuid.UUID,
    subject: str | uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    aggregate_key: str | None = None,
) -> OutboxEntry:
    """``data`` as an outbox row, not yet written: :func:`emit` writes it with the unit of work,
    and a repository that writes a whole change in one statement may write it there instead.

    ``subject`` names the entity the event is about (CloudEvents ``subject``). Events of one
    ``aggregate_key`` (default: the subject) are delivered in the order they were written.
    """
    definition = data.definition()
    envelope = CloudEvent(
        source=f"urn:partnerguard:{definition.domain}",
        type=definition.type,
        subject=str(subject) if subject is not None else None,
        data=data.model_dump(mode="json"),
        partnerid=partner_id,
        customerid=customer_id,
        traceparent=current_traceparent(),
    )
    return OutboxEntry(
        id=envelope.id,
        partner_id=partner_id,
        aggregate_key=aggregate_key or f"{definition.entity}:{subject or envelope.id}",
        subject=definition.subject(partner_id),
        event_type=definition.type,
        envelope=envelope.model_dump(mode="json", exclude_none=True),
    )


async def emit(
    session: AsyncSession,
    data: EventData,
    *,
    partner_id: uuid.UUID,
    subject: str | uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    aggregate_key: str | None = None,
) -> None:
    """Write ``data`` as an event in the caller's transaction; it leaves only if that commits.

    See :func:`outbox_entry` for ``subject`` and ``aggregate_key``.
    """
    stage(
        session,
        outbox_entry(
            data,
            partner_id=partner_id,
            subject=subject,
            customer_id=customer_id,
            aggregate_key=aggregate_key,
        ),
    )


def stage(session: AsyncSession, entry: OutboxEntry) -> None:
    """Write ``entry`` with the caller's unit of work."""
    session.add(
        OutboxEvent(
            id=entry.id,
            partner_id=entry.partner_id,
            aggregate_key=entry.aggregate_key,
            subject=entry.subject,
            event_type=entry.event_type,
            envelope=entry.envelope,
        )
    )


class OutboxRelay:
    """Moves committed outbox events to JetStream. Any number may run at once."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        service: str,
        batch_size: int = 200,
        poll_interval: float = 0.05,
        max_backoff: float = 5.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff

    async def relay_once(self) -> int:
        """Claim one batch, publish it in order, mark what was acknowledged. Returns how many."""
        async with self.db.sweep_session() as session:
            rows = (
                await session.execute(
                    _CLAIM, {"space": _RELAY_LOCK_SPACE, "limit": self.batch_size}
                )
            ).all()
            sent: list[uuid.UUID] = []
            try:
                for row in rows:
                    await self.bus.publish(row.subject, row.envelope.encode(), msg_id=str(row.id))
                    sent.append(row.id)
            except Exception as exc:
                # Stop at the first failure so nothing after it overtakes it; keep what was sent.
                failed = rows[len(sent)]
                OUTBOX_FAILURES.labels(self.service).inc()
                await session.execute(_MARK_FAILED, {"id": failed.id, "error": repr(exc)[:500]})
                if sent:
                    await session.execute(_MARK_SENT, {"ids": sent})
                    OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
                raise
            if sent:
                await session.execute(_MARK_SENT, {"ids": sent})
                OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
            return len(sent)

    async def pending(self) -> int:
        async with self.db.sweep_session() as session:
            count = await session.scalar(
                text("SELECT count(*) FROM outbox_events WHERE status = 'pending'")
            )
        OUTBOX_PENDING.labels(self.service).set(count or 0)
        return int(count or 0)

    async def purge_sent(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete events relayed long ago; the stream keeps its own copy for replay."""
        async with self.db.sweep_session() as session:
            result = await session.execute(
                text(
                    "DELETE FROM outbox_events WHERE status = 'sent' "
                    "AND sent_at < now() - make_interval(secs => :secs)"
                ),
                {"secs": older_than.total_seconds()},
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; back off while NATS or PostgreSQL is unavailable."""
        backoff = self.poll_interval
        while not stop.is_set():
            try:
                count = await self.relay_once()
                backoff = self.poll_interval
            except Exception as exc:
                log.warning("outbox.relay_failed", error=repr(exc), retry_in=backoff)
                count = 0
                backoff = min(max(backoff * 2, 0.2), self.max_backoff)
            if count < self.batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                except TimeoutError:
                    pass
