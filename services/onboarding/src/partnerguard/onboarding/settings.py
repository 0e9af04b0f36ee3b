"""The onboarding service's settings, from the environment only."""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class OnboardingSettings(ServiceSettings):
    service_name: str = "onboarding"
    port: int = 8001
    auth_audience: str = "partnerguard:onboarding"
