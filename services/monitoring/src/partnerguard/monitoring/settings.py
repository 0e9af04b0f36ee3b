"""The monitoring service's settings, from the environment only."""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    service_name: str = "monitoring"
    port: int = 8003
    auth_audience: str = "partnerguard:monitoring"
