"""Builds the gateway service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from partnerguard.common.auth import ClaimMapping, TrustedIssuer
from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import PeriodicJob, Role, Runtime, ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.gateway.clients.endpoints import router as clients_router
from partnerguard.gateway.context import Gateway, GatewayVerifier
from partnerguard.gateway.keys.service import RotationPolicy
from partnerguard.gateway.keys.store import KeyStore
from partnerguard.gateway.oauth.endpoints import router as oauth_router
from partnerguard.gateway.oauth.errors import install_oauth_error_handler
from partnerguard.gateway.partners.endpoints import router as partners_router
from partnerguard.gateway.proxy.endpoints import router as proxy_router
from partnerguard.gateway.proxy.endpoints import services_router as proxy_services_router
from partnerguard.gateway.proxy.forward import Proxy
from partnerguard.gateway.proxy.openapi import merge_openapi
from partnerguard.gateway.ratelimit import RateLimiter
from partnerguard.gateway.revocation import RevocationList
from partnerguard.gateway.roles import ROLE_SCOPES
from partnerguard.gateway.roles import Role as PartnerRole
from partnerguard.gateway.sealing import Sealer, generate_key
from partnerguard.gateway.settings import GatewaySettings
from partnerguard.gateway.spec import SPEC
from partnerguard.gateway.web import install_edge_middleware
from partnerguard.gateway.webhooks.delivery import DELIVERY_JOB
from partnerguard.gateway.webhooks.endpoints import router as webhooks_router
from partnerguard.gateway.webhooks.handlers import webhook_consumers

log = structlog.get_logger()

KEY_MAINTENANCE_SECONDS = 60.0


def definition(settings: GatewaySettings | None = None) -> ServiceDefinition:
    settings = settings or GatewaySettings()
    return ServiceDefinition(
        migrations=SPEC.migrations,
        name="gateway",
        title="PartnerGuard API",
        description=(
            "The public door to PartnerGuard: OAuth 2.0 tokens, partners and clients, webhooks, "
            "and every service's API under `/v1/<service>/`."
        ),
        settings=settings,
        # The services' routes first: the busiest, and apart from the gateway's own. The proxy's
        # catch-all (for unknown names) comes last, after every route of the gateway's own.
        routers=[
            proxy_services_router,
            oauth_router,
            partners_router,
            clients_router,
            webhooks_router,
            proxy_router,
        ],
        consumers=webhook_consumers(),
        jobs=[PeriodicJob("signing-keys", KEY_MAINTENANCE_SECONDS, _maintain_keys), DELIVERY_JOB],
    )


async def _maintain_keys(runtime: Runtime) -> None:
    gateway: Gateway = runtime.extras["gateway"]
    await gateway.keys.maintain()


def rotation_policy(settings: GatewaySettings) -> RotationPolicy:
    return RotationPolicy(
        publish_lead=timedelta(seconds=settings.signing_key_publish_lead_seconds),
        signing_period=timedelta(days=settings.signing_key_rotation_days),
        token_lifetime=timedelta(seconds=settings.token_lifetime_seconds),
        leeway=timedelta(seconds=settings.auth_leeway_seconds + 30),
    )


def sealer_for(settings: GatewaySettings) -> Sealer:
    if settings.secrets_key is not None:
        return Sealer.from_base64(settings.secrets_key.get_secret_value())
    if settings.environment != "dev":
        raise RuntimeError("SECRETS_KEY is required outside the dev environment")
    log.warning(
        "gateway.ephemeral_secrets_key", hint="set SECRETS_KEY to keep keys across restarts"
    )
    return Sealer.from_base64(generate_key())


def trusted_issuers(settings: GatewaySettings) -> list[TrustedIssuer]:
    own = TrustedIssuer(
        issuer=settings.issuer(),
        jwks_url=f"{settings.issuer()}/.well-known/jwks.json",
        audience=settings.auth_audience,
    )
    external = [
        TrustedIssuer(
            issuer=ext.issuer,
            jwks_url=ext.jwks_url,
            audience=ext.audience,
            algorithms=frozenset(ext.algorithms),
            claims=ClaimMapping(
                partner_claim=ext.partner_claim,
                partner_id=ext.partner_id,
                client_claim=ext.client_claim,
                role_claim=ext.role_claim,
                role_scopes={
                    theirs: ROLE_SCOPES[PartnerRole(ours)] for theirs, ours in ext.role_map.items()
                },
            ),
        )
        for ext in settings.external_issuers
    ]
    return [own, *external]


def build(
    settings: GatewaySettings, db: Database | None = None
) -> tuple[ServiceDefinition, Runtime, Gateway]:
    """The gateway's definition, runtime and process state, wired together."""
    service = definition(settings)
    database = db or Database.from_settings(settings)
    keys = KeyStore(database, sealer_for(settings), rotation_policy(settings))
    revocations = RevocationList(database, timedelta(seconds=settings.token_lifetime_seconds))
    verifier = GatewayVerifier(
        trusted_issuers(settings),
        leeway=settings.auth_leeway_seconds,
        min_refresh_interval=settings.auth_jwks_min_refresh_seconds,
        key_sources={settings.issuer(): keys},
        revocations=revocations,
    )
    gateway = Gateway(
        settings=settings,
        keys=keys,
        revocations=revocations,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        proxy=Proxy(settings),
    )
    runtime = Runtime(service, db=database, verifier=verifier)
    runtime.extras["gateway"] = gateway

    @asynccontextmanager
    async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
        await keys.maintain()
        await revocations.refresh()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                revocations.run(stop, settings.revocation_refresh_seconds), name="revocations"
            ),
            asyncio.create_task(gateway.proxy.run(stop), name="upstream-openapi"),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await gateway.proxy.aclose()

    service.lifespan = lifespan
    return service, runtime, gateway


def create_app(
    settings: GatewaySettings | None = None, db: Database | None = None, role: Role = "api"
) -> FastAPI:
    """The API process (uvicorn --factory partnerguard.gateway.app:create_app)."""
    service, runtime, gateway = build(settings or GatewaySettings(), db)
    app = create_service_app(service, role=role, runtime=runtime)
    app.state.gateway = gateway
    install_oauth_error_handler(app)
    install_edge_middleware(app, gateway)
    _serve_merged_openapi(app, gateway)
    return app


def _serve_merged_openapi(app: FastAPI, gateway: Gateway) -> None:
    """``/openapi.json`` (and ``/docs``) describe the whole platform, rebuilt when a service's
    document changes."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if gateway.proxy.changed.is_set() or "doc" not in cache:
            gateway.proxy.changed.clear()
            own = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            cache["doc"] = merge_openapi(
                own, dict(gateway.proxy.documents), f"{gateway.settings.issuer()}/oauth/token"
            )
        return cache["doc"]

    app.openapi = openapi  # type: ignore[method-assign]
