"""Builds the billing service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.billing.accounts.endpoints import router as accounts_router
from partnerguard.billing.accounts.handlers import onboarding_consumer
from partnerguard.billing.dunning.endpoints import router as dunning_router
from partnerguard.billing.dunning.jobs import dunning_jobs
from partnerguard.billing.instruments.endpoints import router as instruments_router
from partnerguard.billing.invoices.endpoints import router as invoices_router
from partnerguard.billing.payments.endpoints import router as payments_router
from partnerguard.billing.receivables.endpoints import router as receivables_router
from partnerguard.billing.settings import BillingSettings
from partnerguard.billing.spec import SPEC
from partnerguard.billing.usage.handlers import monitoring_consumer
from partnerguard.common.runtime import Runtime, ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app


def definition(settings: BillingSettings | None = None) -> ServiceDefinition:
    settings = settings or BillingSettings()
    return ServiceDefinition(
        migrations=SPEC.migrations,
        name="billing",
        title="PartnerGuard billing",
        description=(
            "Prepayment, safe payment instruments, invoices, aging receivables and standardized dunning."
        ),
        settings=settings,
        routers=[
            accounts_router,
            instruments_router,
            invoices_router,
            payments_router,
            receivables_router,
            dunning_router,
        ],
        consumers=[onboarding_consumer(settings), monitoring_consumer(settings)],
        jobs=dunning_jobs(settings),
        openapi_tags=[
            {"name": "accounts", "description": "Billing accounts and their prepayment gate."},
            {"name": "instruments", "description": "Payment instruments and the refusal policy."},
            {"name": "invoices", "description": "Invoices, credit notes and disputes."},
            {"name": "payments", "description": "Payments, their posting and reversals."},
            {"name": "receivables", "description": "Aging receivables and exposure."},
            {"name": "dunning", "description": "The dunning policy and its runs."},
        ],
    )


def create_app(settings: BillingSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The API process (uvicorn --factory partnerguard.billing.app:create_app)."""
    defined = definition(settings)
    return create_service_app(defined, role="api", runtime=runtime or Runtime(defined))
