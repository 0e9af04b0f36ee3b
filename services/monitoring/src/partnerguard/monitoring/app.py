"""Builds the monitoring service: its definition, and the API app uvicorn serves."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import Runtime, ServiceDefinition
from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.monitoring.activity.endpoints import router as activity_router
from partnerguard.monitoring.alerts.endpoints import router as alerts_router
from partnerguard.monitoring.budgets.endpoints import router as budgets_router
from partnerguard.monitoring.customers.handlers import onboarding_consumer
from partnerguard.monitoring.detection.endpoints import router as detection_router
from partnerguard.monitoring.evaluation.job import evaluation_job
from partnerguard.monitoring.notifications.endpoints import router as notifications_router
from partnerguard.monitoring.notifications.jobs import notification_clock_job
from partnerguard.monitoring.settings import MonitoringSettings
from partnerguard.monitoring.spec import SPEC
from partnerguard.monitoring.usage.endpoints import router as usage_router
from partnerguard.monitoring.usage.stream import usage_consumer


def definition(settings: MonitoringSettings | None = None) -> ServiceDefinition:
    settings = settings or MonitoringSettings()
    return ServiceDefinition(
        migrations=SPEC.migrations,
        name="monitoring",
        title="PartnerGuard monitoring",
        description=(
            "Usage at volume, budgets, spend anomalies, activity-log rules and the vendor's notifications."
        ),
        settings=settings,
        routers=[
            usage_router,
            budgets_router,
            alerts_router,
            detection_router,
            activity_router,
            notifications_router,
        ],
        consumers=[onboarding_consumer(), usage_consumer(settings)],
        jobs=[evaluation_job(settings), notification_clock_job(settings)],
        openapi_tags=[
            {
                "name": "usage",
                "description": "Rated usage records in, de-duplicated and aggregated.",
            },
            {"name": "budgets", "description": "Monthly spending budgets and spend series."},
            {"name": "alerts", "description": "Alerts from detectors, rules and the vendor."},
            {"name": "detection", "description": "The partner's detector and rule settings."},
            {"name": "activity", "description": "Customer tenants' activity logs and their rules."},
            {
                "name": "notifications",
                "description": "The vendor's notices and their response clock.",
            },
        ],
    )


def create_app(
    settings: MonitoringSettings | None = None, runtime: Runtime | None = None
) -> FastAPI:
    """The API process (uvicorn --factory partnerguard.monitoring.app:create_app)."""
    defined = definition(settings)
    return create_service_app(defined, role="api", runtime=runtime or Runtime(defined))
