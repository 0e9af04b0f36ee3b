"""A minimal "onboarding" service for ``bench.gateway_overhead``, served by its own uvicorn.

``python -m uvicorn --factory bench.upstream_app:create_app``; settings from the environment
(``AUTH_ISSUER``, ``AUTH_JWKS_URL``, ``AUTH_AUDIENCE``, ``NATS_URL``, ``DATABASE_URL``). It is
built on the kernel like every service and verifies the gateway's tokens itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI

from partnerguard.common.auth import Caller
from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.common.settings import ServiceSettings
from partnerguard.common.web.deps import caller_with

router = APIRouter(prefix="/v1/onboarding")


@router.get("/ping")
async def ping(caller: Annotated[Caller, caller_with("onboarding:read")]) -> dict[str, str]:
    return {"pong": str(caller.partner_id)}


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="onboarding")
    definition = ServiceDefinition(
        name="onboarding", title="Onboarding (bench)", settings=settings, routers=[router]
    )
    return create_service_app(definition)
