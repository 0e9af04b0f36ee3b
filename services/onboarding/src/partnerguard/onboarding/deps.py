"""The onboarding service's own dependencies: its settings, adapters and who may call what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from partnerguard.common.auth import Caller
from partnerguard.common.web.deps import caller_with, get_runtime
from partnerguard.onboarding.adapters import Adapters
from partnerguard.onboarding.settings import OnboardingSettings

READ = "onboarding:read"
WRITE = "onboarding:write"

Reader = Annotated[Caller, caller_with(READ)]
Writer = Annotated[Caller, caller_with(WRITE)]


async def get_settings(request: Request) -> OnboardingSettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, OnboardingSettings)
    return settings


async def get_adapters(request: Request) -> Adapters:
    adapters: Adapters = get_runtime(request).extras["adapters"]
    return adapters


SettingsDep = Annotated[OnboardingSettings, Depends(get_settings)]
AdaptersDep = Annotated[Adapters, Depends(get_adapters)]
