"""The gateway service's settings, from the environment only."""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    auth_audience: str = "partnerguard:gateway"
