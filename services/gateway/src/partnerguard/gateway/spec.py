"""How the launcher finds the gateway service (entry point ``partnerguard.services``)."""

from __future__ import annotations

from pathlib import Path

from partnerguard.common.migrations import locate_migrations
from partnerguard.common.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="gateway",
    default_port=8000,
    api_app="partnerguard.gateway.app:create_app",
    worker_app="partnerguard.gateway.worker:create_app",
    migrations=locate_migrations(Path(__file__).parent),
)
