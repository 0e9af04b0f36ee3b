"""Builds the enforcement service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from partnerguard.common.runtime import Runtime, ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.enforcement.access.endpoints import router as access_router
from partnerguard.enforcement.approvals.endpoints import router as approvals_router
from partnerguard.enforcement.approvals.jobs import approval_jobs
from partnerguard.enforcement.audit.endpoints import router as audit_router
from partnerguard.enforcement.audit.jobs import audit_jobs
from partnerguard.enforcement.cases.endpoints import router as cases_router
from partnerguard.enforcement.cases.jobs import case_jobs
from partnerguard.enforcement.holds.endpoints import router as holds_router
from partnerguard.enforcement.policies.endpoints import router as policies_router
from partnerguard.enforcement.policies.handlers import event_consumers
from partnerguard.enforcement.provider.jobs import provider_jobs, provider_lifespan
from partnerguard.enforcement.registry.endpoints import router as registry_router
from partnerguard.enforcement.settings import EnforcementSettings
from partnerguard.enforcement.spec import SPEC


def definition(settings: EnforcementSettings | None = None) -> ServiceDefinition:
    settings = settings or EnforcementSettings()
    # Set by the event handlers after a commit, so a hold's suspension is carried out at once.
    provider_wake = asyncio.Event()
    return ServiceDefinition(
        migrations=SPEC.migrations,
        name="enforcement",
        title="PartnerGuard enforcement",
        description=(
            "Holds, policy-driven suspension and reinstatement, cases and the compromise credit clock."
        ),
        settings=settings,
        routers=[
            registry_router,
            holds_router,
            policies_router,
            approvals_router,
            cases_router,
            access_router,
            audit_router,
        ],
        consumers=event_consumers(settings, after_commit=provider_wake.set),
        jobs=[
            *provider_jobs(settings, wake=provider_wake),
            *approval_jobs(settings),
            *case_jobs(settings),
            *audit_jobs(settings),
        ],
        lifespan=provider_lifespan(settings),
        openapi_tags=[
            {"name": "registry", "description": "Customers and their subscriptions."},
            {"name": "holds", "description": "Holds, and the suspension they cause."},
            {"name": "policies", "description": "The partner's rules from events to actions."},
            {"name": "approvals", "description": "Actions waiting for a person's approval."},
            {"name": "cases", "description": "Cases and the one-time compromise credit."},
            {"name": "access", "description": "The gate before full administrative access."},
            {"name": "audit", "description": "The hash-chained record of every action."},
        ],
    )


def create_app(
    settings: EnforcementSettings | None = None, runtime: Runtime | None = None
) -> FastAPI:
    """The API process (uvicorn --factory partnerguard.enforcement.app:create_app)."""
    defined = definition(settings)
    return create_service_app(defined, role="api", runtime=runtime or Runtime(defined))
