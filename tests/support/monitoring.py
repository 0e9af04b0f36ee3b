"""The monitoring service as an in-process ASGI app on a fresh database, with its outbox at hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import Runtime
from partnerguard.monitoring.app import create_app, definition
from partnerguard.monitoring.evaluation.job import evaluate_all
from partnerguard.monitoring.settings import MonitoringSettings
from tests.support.events import outbox_events
from tests.support.jwks import Issuer

AUDIENCE = "partnerguard:monitoring"
ALL_SCOPES = ("monitoring:read", "monitoring:write")


@dataclass
class RunningMonitoring:
    http: httpx.AsyncClient
    db: Database
    issuer: Issuer
    settings: MonitoringSettings
    runtime: Runtime
    transport: httpx.AsyncBaseTransport

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

    async def ingest(
        self, partner_id: uuid.UUID, records: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """Send ``records`` through ``POST /v1/monitoring/usage``; the answer's summary."""
        response = await self.http.post(
            "/v1/monitoring/usage",
            json={"records": list(records)},
            headers=self.headers(partner_id),
        )
        assert response.status_code == 200, response.text
        summary: dict[str, Any] = response.json()
        return summary

    async def evaluate(self, now: datetime | None = None) -> int:
        """Run the evaluation job until no changed customer-day is left (as the worker would)."""
        return await evaluate_all(self.db, batch=self.settings.evaluation_batch_size, now=now)


def usage_record(
    customer_id: uuid.UUID,
    start: datetime,
    cost: str = "1.00",
    *,
    record_id: str | None = None,
    subscription_id: uuid.UUID | None = None,
    meter: str = "D2 v3",
    meter_category: str = "Virtual Machines",
    resource_type: str = "Standard_D2_v3",
    region: str = "westeurope",
    quantity: str = "1",
    unit: str = "1 Hour",
    currency: str = "EUR",
    hours: int = 1,
) -> dict[str, Any]:
    """One valid usage record as the API takes it; override any field."""
    return {
        "record_id": record_id or str(uuid.uuid4()),
        "customer_id": str(customer_id),
        "subscription_id": str(subscription_id or uuid.UUID(int=customer_id.int ^ 1)),
        "meter": meter,
        "meter_category": meter_category,
        "resource_type": resource_type,
        "region": region,
        "quantity": quantity,
        "unit": unit,
        "cost": cost,
        "currency": currency,
        "usage_start": start.isoformat(),
        "usage_end": (start + timedelta(hours=hours)).isoformat(),
    }


def monitoring_settings(issuer: Issuer, nats_url: str, **overrides: object) -> MonitoringSettings:
    values: dict[str, object] = {
        "auth_issuer": issuer.url,
        "auth_jwks_url": issuer.jwks_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return MonitoringSettings.model_validate(values)


@asynccontextmanager
async def running_monitoring(
    db: Database, issuer: Issuer, settings: MonitoringSettings
) -> AsyncIterator[RunningMonitoring]:
    """The monitoring API with its lifespan entered, called through httpx (no workers run)."""
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    runtime = Runtime(definition(settings), db=db, verifier=verifier)
    app = create_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://monitoring") as http:
            yield RunningMonitoring(http, db, issuer, settings, runtime, transport)
