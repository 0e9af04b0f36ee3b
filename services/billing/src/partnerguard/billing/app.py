"""Builds the billing service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.billing.settings import BillingSettings
from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app


def definition(settings: BillingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="billing",
        title="PartnerGuard billing",
        description=(
            "Prepayment, safe payment instruments, invoices, aging receivables and standardized dunning."
        ),
        settings=settings or BillingSettings(),
    )


def create_app() -> FastAPI:
    """The API process (uvicorn --factory partnerguard.billing.app:create_app)."""
    return create_service_app(definition(), role="api")
