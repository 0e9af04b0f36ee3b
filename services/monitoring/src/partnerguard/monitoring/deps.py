"""The monitoring service's own dependencies: its settings and who may call what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from partnerguard.common.auth import Caller
from partnerguard.common.web.deps import caller_with, get_runtime
from partnerguard.monitoring.settings import MonitoringSettings

READ = "monitoring:read"
WRITE = "monitoring:write"

Reader = Annotated[Caller, caller_with(READ)]
Writer = Annotated[Caller, caller_with(WRITE)]


async def get_settings(request: Request) -> MonitoringSettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, MonitoringSettings)
    return settings


SettingsDep = Annotated[MonitoringSettings, Depends(get_settings)]
