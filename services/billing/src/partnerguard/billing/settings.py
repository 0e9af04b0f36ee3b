"""The billing service's settings, from the environment only."""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    service_name: str = "billing"
    port: int = 8002
    auth_audience: str = "partnerguard:billing"
