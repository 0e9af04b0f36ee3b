"""The enforcement service's own dependencies: its settings and who may call what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from partnerguard.common.auth import Caller
from partnerguard.common.web.deps import caller_with, get_runtime
from partnerguard.enforcement.settings import EnforcementSettings

READ = "enforcement:read"
WRITE = "enforcement:write"
APPROVE = "enforcement:approve"

Reader = Annotated[Caller, caller_with(READ)]
Writer = Annotated[Caller, caller_with(WRITE)]
Approver = Annotated[Caller, caller_with(APPROVE)]


async def get_settings(request: Request) -> EnforcementSettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, EnforcementSettings)
    return settings


SettingsDep = Annotated[EnforcementSettings, Depends(get_settings)]
