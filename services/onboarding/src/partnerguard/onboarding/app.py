"""Builds the onboarding service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from partnerguard.common.runtime import Runtime, ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.onboarding.adapters import build_adapters
from partnerguard.onboarding.applications.endpoints import router as customers_router
from partnerguard.onboarding.checks.endpoints import router as checks_router
from partnerguard.onboarding.collections.endpoints import router as collections_router
from partnerguard.onboarding.lists.endpoints import router as lists_router
from partnerguard.onboarding.reviews.endpoints import router as reviews_router
from partnerguard.onboarding.risk_policy.endpoints import router as risk_policy_router
from partnerguard.onboarding.settings import OnboardingSettings
from partnerguard.onboarding.spec import SPEC
from partnerguard.onboarding.verifications.endpoints import router as verifications_router


def definition(settings: OnboardingSettings | None = None) -> ServiceDefinition:
    settings = settings or OnboardingSettings()

    @asynccontextmanager
    async def adapters(runtime: Runtime) -> AsyncIterator[None]:
        built = build_adapters(settings)
        runtime.extras["adapters"] = built
        try:
            yield
        finally:
            await built.aclose()

    return ServiceDefinition(
        migrations=SPEC.migrations,
        name="onboarding",
        title="PartnerGuard onboarding",
        description=(
            "Vets new customers before they can buy: identity, verification, risk scoring and review."
        ),
        settings=settings,
        routers=[
            customers_router,
            verifications_router,
            checks_router,
            reviews_router,
            risk_policy_router,
            lists_router,
            collections_router,
        ],
        lifespan=adapters,
        openapi_tags=[
            {"name": "customers", "description": "Customer applications and their decisions."},
            {"name": "verifications", "description": "SMS and e-mail one-time codes."},
            {"name": "checks", "description": "Identity, credit, MFA and staff checks."},
            {"name": "reviews", "description": "The review queue and reviewers' decisions."},
            {"name": "risk-policy", "description": "The partner's versioned scoring policy."},
            {"name": "lists", "description": "Allow and block lists used by the rules."},
            {"name": "collections-policy", "description": "The partner's collections policy."},
        ],
    )


def create_app(
    settings: OnboardingSettings | None = None, runtime: Runtime | None = None
) -> FastAPI:
    """The API process (uvicorn --factory partnerguard.onboarding.app:create_app)."""
    defined = definition(settings)
    return create_service_app(defined, role="api", runtime=runtime or Runtime(defined))
