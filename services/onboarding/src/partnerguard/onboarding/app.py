"""Builds the onboarding service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.onboarding.settings import OnboardingSettings


def definition(settings: OnboardingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="onboarding",
        title="PartnerGuard onboarding",
        description=(
            "Vets new customers before they can buy: identity, verification, risk scoring and review."
        ),
        settings=settings or OnboardingSettings(),
    )


def create_app() -> FastAPI:
    """The API process (uvicorn --factory partnerguard.onboarding.app:create_app)."""
    return create_service_app(definition(), role="api")
