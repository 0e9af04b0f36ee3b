"""The event consumers that feed the registry and the policies: durable ``enforcement-events``
on each stream enforcement listens to (a JetStream consumer reads one stream)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as orm_events
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import Event
from partnerguard.common.events.types.billing import (
    AccountCleared,
    CustomerDelinquent,
    CustomerInGoodStanding,
)
from partnerguard.common.events.types.monitoring import (
    AlertRaised,
    AlertResolved,
    NotificationReceived,
)
from partnerguard.common.events.types.onboarding import CustomerApproved
from partnerguard.common.runtime import Consumer
from partnerguard.enforcement.policies.engine import handle_event
from partnerguard.enforcement.settings import EnforcementSettings

DURABLE = "enforcement-events"

STREAM_EVENTS: dict[str, tuple[type[EventData], ...]] = {
    "ONBOARDING": (CustomerApproved,),
    "BILLING": (AccountCleared, CustomerDelinquent, CustomerInGoodStanding),
    "MONITORING": (AlertRaised, AlertResolved, NotificationReceived),
}


def _consumer(
    stream: str,
    models: tuple[type[EventData], ...],
    settings: EnforcementSettings,
    after_commit: Callable[[], None] | None,
) -> Consumer:
    handlers = Handlers()

    async def on_event(session: AsyncSession, event: Event[Any]) -> None:
        data: EventData = event.data
        await handle_event(
            session,
            event.partner_id,
            event.id,
            event.envelope.type,
            data.model_dump(mode="json"),
            # The payload's customer wins over the envelope's: it is what the rules act on.
            getattr(data, "customer_id", None) or event.customer_id,
            event.envelope.time,
            datetime.now(UTC),
            approval_ttl_hours=settings.approval_ttl_hours,
        )
        if after_commit is not None:
            # Once the hold it may have placed is visible, not before.
            orm_events.listen(
                session.sync_session, "after_commit", lambda _: after_commit(), once=True
            )

    for model in models:
        handlers.on(model)(on_event)
    return Consumer(
        ConsumerSpec(
            durable=DURABLE,
            stream=stream,
            subjects=handlers.subjects(),
            concurrency=settings.event_concurrency,
        ),
        handlers,
    )


def event_consumers(
    settings: EnforcementSettings, after_commit: Callable[[], None] | None = None
) -> list[Consumer]:
    """One durable ``enforcement-events`` consumer per stream; every handler calls the engine,
    then ``after_commit`` once its effect is committed (it wakes the provider's runner)."""
    return [
        _consumer(stream, models, settings, after_commit)
        for stream, models in STREAM_EVENTS.items()
    ]
