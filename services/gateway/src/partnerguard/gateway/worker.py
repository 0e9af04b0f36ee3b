"""The gateway worker process: outbox relay, event consumers and periodic jobs, plus health."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.gateway.app import definition


def create_app() -> FastAPI:
    """The worker process (uvicorn --factory partnerguard.gateway.worker:create_app)."""
    return create_service_app(definition(), role="worker")
