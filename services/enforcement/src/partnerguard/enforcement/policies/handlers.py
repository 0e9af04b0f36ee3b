"""The event consumers that feed the registry and the policies (filled in by the policies work)."""

from __future__ import annotations

from partnerguard.common.runtime import Consumer
from partnerguard.enforcement.settings import EnforcementSettings


def event_consumers(settings: EnforcementSettings) -> list[Consumer]:
    return []
