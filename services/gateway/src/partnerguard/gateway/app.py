"""Builds the gateway service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.gateway.settings import GatewaySettings


def definition(settings: GatewaySettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="gateway",
        title="PartnerGuard gateway",
        description=(
            "The public door: OAuth 2.0 tokens, the tenant-safe proxy to the services, rate limits and webhooks."
        ),
        settings=settings or GatewaySettings(),
    )


def create_app() -> FastAPI:
    """The API process (uvicorn --factory partnerguard.gateway.app:create_app)."""
    return create_service_app(definition(), role="api")
