"""How the launcher finds the billing service (entry point ``partnerguard.services``)."""

from __future__ import annotations

from pathlib import Path

from partnerguard.common.migrations import locate_migrations
from partnerguard.common.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="billing",
    default_port=8002,
    api_app="partnerguard.billing.app:create_app",
    worker_app="partnerguard.billing.worker:create_app",
    migrations=locate_migrations(Path(__file__).parent),
)
