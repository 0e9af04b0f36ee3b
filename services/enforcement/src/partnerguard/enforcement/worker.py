"""The enforcement worker process: outbox relay, event consumers and periodic jobs, plus health."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.common.runtime import create_app as create_service_app
from partnerguard.enforcement.app import definition


def create_app() -> FastAPI:
    """The worker process (uvicorn --factory partnerguard.enforcement.worker:create_app)."""
    return create_service_app(definition(), role="worker")
