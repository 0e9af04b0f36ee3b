"""Builds the monitoring service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.monitoring.settings import MonitoringSettings


def definition(settings: MonitoringSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="monitoring",
        title="PartnerGuard monitoring",
        description=(
            "Usage at volume, budgets, spend anomalies, activity-log rules and the vendor's notifications."
        ),
        settings=settings or MonitoringSettings(),
    )


def create_app() -> FastAPI:
    """The API process (uvicorn --factory partnerguard.monitoring.app:create_app)."""
    return create_service_app(definition(), role="api")
