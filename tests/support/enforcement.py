"""The enforcement service as an in-process ASGI app on a fresh database, with its outbox at hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import Runtime
from partnerguard.enforcement.app import create_app, definition
from partnerguard.enforcement.audit.log import chain_pending
from partnerguard.enforcement.models import AuditEntry
from partnerguard.enforcement.settings import EnforcementSettings
from tests.support.events import outbox_events
from tests.support.jwks import Issuer

AUDIENCE = "partnerguard:enforcement"
ALL_SCOPES = ("enforcement:read", "enforcement:write", "enforcement:approve")


@dataclass
class RunningEnforcement:
    http: httpx.AsyncClient
    db: Database
    issuer: Issuer
    settings: EnforcementSettings
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


def enforcement_settings(issuer: Issuer, nats_url: str, **overrides: object) -> EnforcementSettings:
    values: dict[str, object] = {
        "auth_issuer": issuer.url,
        "auth_jwks_url": issuer.jwks_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return EnforcementSettings.model_validate(values)


@asynccontextmanager
async def running_enforcement(
    db: Database, issuer: Issuer, settings: EnforcementSettings
) -> AsyncIterator[RunningEnforcement]:
    """The enforcement API with its lifespan entered, called through httpx (no workers run)."""
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    runtime = Runtime(definition(settings), db=db, verifier=verifier)
    app = create_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://enforcement") as http:
            yield RunningEnforcement(http, db, issuer, settings, runtime, transport)


async def audit_log(db: Database, partner_id: uuid.UUID) -> list[AuditEntry]:
    """The partner's audit log in chain order, read as the API reads it: what is still waiting
    for the chaining job is chained first."""
    async with db.tenant_session(partner_id) as session:
        await chain_pending(session, partner_id, limit=None)
        statement = select(AuditEntry).order_by(AuditEntry.seq)
        return list((await session.scalars(statement)).all())
