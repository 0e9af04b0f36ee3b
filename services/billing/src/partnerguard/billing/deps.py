"""The billing service's own dependencies: its settings and who may call what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from partnerguard.billing.settings import BillingSettings
from partnerguard.common.auth import Caller
from partnerguard.common.web.deps import caller_with, get_runtime

READ = "billing:read"
WRITE = "billing:write"

Reader = Annotated[Caller, caller_with(READ)]
Writer = Annotated[Caller, caller_with(WRITE)]


async def get_settings(request: Request) -> BillingSettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, BillingSettings)
    return settings


SettingsDep = Annotated[BillingSettings, Depends(get_settings)]
