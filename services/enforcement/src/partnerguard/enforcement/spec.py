"""How the launcher finds the enforcement service (entry point ``partnerguard.services``)."""

from __future__ import annotations

from pathlib import Path

from partnerguard.common.migrations import locate_migrations
from partnerguard.common.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="enforcement",
    default_port=8004,
    api_app="partnerguard.enforcement.app:create_app",
    worker_app="partnerguard.enforcement.worker:create_app",
    migrations=locate_migrations(Path(__file__).parent),
)
