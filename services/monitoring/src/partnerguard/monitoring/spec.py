"""How the launcher finds the monitoring service (entry point ``partnerguard.services``)."""

from __future__ import annotations

from pathlib import Path

from partnerguard.common.migrations import locate_migrations
from partnerguard.common.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="monitoring",
    default_port=8003,
    api_app="partnerguard.monitoring.app:create_app",
    worker_app="partnerguard.monitoring.worker:create_app",
    migrations=locate_migrations(Path(__file__).parent),
)
