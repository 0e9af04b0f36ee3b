"""How the launcher finds the onboarding service (entry point ``partnerguard.services``)."""

from __future__ import annotations

from pathlib import Path

from partnerguard.common.migrations import locate_migrations
from partnerguard.common.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="onboarding",
    default_port=8001,
    api_app="partnerguard.onboarding.app:create_app",
    worker_app="partnerguard.onboarding.worker:create_app",
    migrations=locate_migrations(Path(__file__).parent),
)
