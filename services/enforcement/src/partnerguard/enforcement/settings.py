"""The enforcement service's settings, from the environment only."""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class EnforcementSettings(ServiceSettings):
    service_name: str = "enforcement"
    port: int = 8004
    auth_audience: str = "partnerguard:enforcement"
