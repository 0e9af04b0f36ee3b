"""The gateway worker process: outbox relay, webhook fan-out and delivery, key rotation, health."""

from __future__ import annotations

from fastapi import FastAPI

from partnerguard.gateway.app import create_app as create_gateway_app


def create_app() -> FastAPI:
    """The worker process (uvicorn --factory partnerguard.gateway.worker:create_app)."""
    return create_gateway_app(role="worker")
