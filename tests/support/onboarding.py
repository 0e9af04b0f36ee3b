"""The onboarding service as an in-process ASGI app on a fresh database, with its outbox at hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import Runtime
from partnerguard.onboarding.app import create_app, definition
from partnerguard.onboarding.settings import OnboardingSettings
from tests.support.jwks import Issuer

AUDIENCE = "partnerguard:onboarding"
ALL_SCOPES = ("onboarding:read", "onboarding:write")


@dataclass
class RunningOnboarding:
    http: httpx.AsyncClient
    db: Database
    issuer: Issuer
    settings: OnboardingSettings

    def headers(
        self, partner_id: uuid.UUID, scopes: Sequence[str] = ALL_SCOPES, **extra: str
    ) -> dict[str, str]:
        token = self.issuer.token(partner_id, list(scopes), audience=AUDIENCE)
        return {"Authorization": f"Bearer {token}", **extra}

    async def events(
        self, partner_id: uuid.UUID, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        """The CloudEvents this partner's actions wrote to the outbox, oldest first."""
        query = "SELECT envelope FROM outbox_events WHERE partner_id = :p"
        params: dict[str, Any] = {"p": partner_id}
        if event_type is not None:
            query += " AND event_type = :t"
            params["t"] = event_type
        async with self.db.sweep_session() as session:
            rows = await session.execute(text(query + " ORDER BY seq"), params)
            return [row[0] for row in rows]


def onboarding_settings(issuer: Issuer, nats_url: str, **overrides: object) -> OnboardingSettings:
    values: dict[str, object] = {
        "auth_issuer": issuer.url,
        "auth_jwks_url": issuer.jwks_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return OnboardingSettings.model_validate(values)


@asynccontextmanager
async def running_onboarding(
    db: Database, issuer: Issuer, settings: OnboardingSettings
) -> AsyncIterator[RunningOnboarding]:
    """The onboarding API with its lifespan entered (adapters built), called through httpx."""
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    app = create_app(settings, runtime=Runtime(definition(settings), db=db, verifier=verifier))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://onboarding") as http:
            yield RunningOnboarding(http, db, issuer, settings)


def application_body(**overrides: Any) -> dict[str, Any]:
    """A clean company's application (a German firm on its own domain, valid phone, card of
    its own country); ``overrides`` replace top-level parts, e.g. ``contact={...}``."""
    body: dict[str, Any] = {
        "company": {
            "name": "Contoso GmbH",
            "domain": "contoso.example",
            "country": "DE",
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"},
            "registration_number": "HRB 12345",
        },
        "contact": {
            "name": "Erika Mustermann",
            "email": "erika@contoso.example",
            "phone": "+4930901820",
        },
        "vendor_tenant_id": str(uuid.uuid4()),
        "payment_instrument": {"type": "credit_card", "card_bin": "45717360", "card_country": "DE"},
        "signup": {
            "ip": "203.0.113.10",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0",
            "device_id": f"device-{uuid.uuid4()}",
            "form_fill_seconds": 95.0,
            "ip_country": "DE",
        },
    }
    body.update(overrides)
    return body


async def publish_collections_policy(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, version: str = "2026-11"
) -> dict[str, Any]:
    """Publish a collections policy version for the partner; its stored form."""
    response = await onboarding.http.put(
        "/v1/onboarding/collections-policy",
        json={
            "version": version,
            "text": "Invoices are due in 30 days. Access is suspended 30 days after the due date.",
            "payment_terms_days": 30,
            "grace_days": 7,
            "suspension_day": 30,
        },
        headers=onboarding.headers(partner_id),
    )
    assert response.status_code in (200, 201), response.text
    published: dict[str, Any] = response.json()
    return published
