"""Builds the enforcement service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.enforcement.settings import EnforcementSettings


def definition(settings: EnforcementSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="enforcement",
        title="PartnerGuard enforcement",
        description=(
            "Holds, policy-driven suspension and reinstatement, cases and the compromise credit clock."
        ),
        settings=settings or EnforcementSettings(),
    )


def create_app() -> FastAPI:
    """The API process (uvicorn --factory partnerguard.enforcement.app:create_app)."""
    return create_service_app(definition(), role="api")
