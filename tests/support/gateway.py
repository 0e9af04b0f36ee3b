"""The gateway as an in-process ASGI app on a fresh database, and builders for its data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from partnerguard.common.db.engine import Database
from partnerguard.gateway.app import create_app
from partnerguard.gateway.clients.service import create_client
from partnerguard.gateway.context import Gateway
from partnerguard.gateway.partners.service import create_partner
from partnerguard.gateway.roles import Role
from partnerguard.gateway.sealing import generate_key
from partnerguard.gateway.settings import GatewaySettings

ISSUER = "http://gateway.test"


def gateway_settings(**overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "public_url": ISSUER,
        "auth_issuer": ISSUER,
        "secrets_key": generate_key(),
        "log_json": False,
        "log_level": "WARNING",
        "service_urls": {},
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return GatewaySettings.model_validate(values)


@dataclass
class RunningGateway:
    app: FastAPI
    gateway: Gateway
    http: httpx.AsyncClient
    db: Database


@asynccontextmanager
async def running_gateway(db: Database, settings: GatewaySettings) -> AsyncIterator[RunningGateway]:
    """The gateway app with its lifespan entered (keys loaded), called through httpx."""
    app = create_app(settings, db=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            yield RunningGateway(app, app.state.gateway, http, db)


@dataclass(frozen=True)
class Credentials:
    partner_id: uuid.UUID
    client_id: str
    client_secret: str


async def new_partner(db: Database, name: str | None = None) -> uuid.UUID:
    async with db.session() as session:
        partner = await create_partner(session, name or f"partner-{uuid.uuid4().hex[:8]}")
        return partner.id


async def new_client(
    db: Database, role: Role = Role.GLOBAL_ADMIN, partner_id: uuid.UUID | None = None
) -> Credentials:
    """A client of a new partner (or of ``partner_id``), with its secret."""
    if partner_id is None:
        if role is Role.PLATFORM_ADMIN:
            async with db.session() as session:
                partner = await create_partner(
                    session, f"operator-{uuid.uuid4().hex[:8]}", kind="operator"
                )
                partner_id = partner.id
        else:
            partner_id = await new_partner(db)
    async with db.tenant_session(partner_id) as session:
        client, secret = await create_client(session, partner_id, "test client", role)
        return Credentials(partner_id, client.client_id, secret)


async def token_for(
    http: httpx.AsyncClient, credentials: Credentials, scope: str | None = None
) -> str:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = await http.post(
        "/oauth/token", data=form, auth=(credentials.client_id, credentials.client_secret)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
