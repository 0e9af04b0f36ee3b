"""The widgets test service as an ASGI app, called in-process through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import Runtime, ServiceDefinition, create_app
from partnerguard.common.settings import ServiceSettings
from tests.support.jwks import Issuer
from tests.support.widgets import router

AUDIENCE = "partnerguard:widgets"


def widget_settings(issuer: Issuer) -> ServiceSettings:
    """The widgets service's settings, trusting ``issuer``."""
    return ServiceSettings(
        service_name="widgets",
        auth_issuer=issuer.url,
        auth_jwks_url=issuer.jwks_url,
        auth_audience=AUDIENCE,
        log_json=False,
        log_level="WARNING",
    )


@asynccontextmanager
async def widget_client(db: Database, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    settings = widget_settings(issuer)
    definition = ServiceDefinition(
        name="widgets", title="Widgets", settings=settings, routers=[router]
    )
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    app = create_app(definition, runtime=Runtime(definition, db=db, verifier=verifier))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://widgets") as client:
        yield client
    await verifier.aclose()
