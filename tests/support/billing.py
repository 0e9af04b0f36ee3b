"""The billing service as an in-process ASGI app on a fresh database, with its outbox at hand,
plus a way to deliver real events to its consumers and small builders of test data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from partnerguard.billing.app import create_app, definition
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer
from partnerguard.common.db.engine import Database
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import CloudEvent
from partnerguard.common.runtime import Consumer, Runtime
from tests.support.jwks import Issuer

AUDIENCE = "partnerguard:billing"
ALL_SCOPES = ("billing:read", "billing:write")


@dataclass
class RunningBilling:
    http: httpx.AsyncClient
    db: Database
    issuer: Issuer
    settings: BillingSettings
    runtime: Runtime

    def headers(
        self, partner_id: uuid.UUID, scopes: Sequence[str] = ALL_SCOPES, **extra: str
    ) -> dict[str, str]:
        token = self.issuer.token(partner_id, list(scopes), audience=AUDIENCE)
        return {"Authorization": f"Bearer {token}", **extra}

    async def events(
        self, partner_id: uuid.UUID, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        """The CloudEvents this partner's actions wrote to the outbox, oldest first."""
        return await outbox_events(self.db, partner_id, event_type)

    async def open_account(self, partner_id: uuid.UUID, **body: Any) -> dict[str, Any]:
        """Open an account through the API (USD, no prepayment unless ``body`` says so)."""
        payload: dict[str, Any] = {
            "customer_id": str(uuid.uuid4()),
            "currency": "USD",
            "country": "US",
            "prepayment_required": False,
        }
        payload.update(body)
        response = await self.http.post(
            "/v1/billing/accounts", json=payload, headers=self.headers(partner_id)
        )
        assert response.status_code == 201, response.text
        account: dict[str, Any] = response.json()
        return account


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


def billing_settings(issuer: Issuer, nats_url: str, **overrides: object) -> BillingSettings:
    values: dict[str, object] = {
        "auth_issuer": issuer.url,
        "auth_jwks_url": issuer.jwks_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return BillingSettings.model_validate(values)


@asynccontextmanager
async def running_billing(
    db: Database, issuer: Issuer, settings: BillingSettings
) -> AsyncIterator[RunningBilling]:
    """The billing API with its lifespan entered, called through httpx (no workers run)."""
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    runtime = Runtime(definition(settings), db=db, verifier=verifier)
    app = create_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing") as http:
            yield RunningBilling(http, db, issuer, settings, runtime)


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
