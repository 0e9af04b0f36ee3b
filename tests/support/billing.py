"""The billing service as an in-process ASGI app on a fresh database, with its outbox at hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from partnerguard.billing.app import create_app, definition
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import Runtime
from tests.support.events import outbox_events
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
