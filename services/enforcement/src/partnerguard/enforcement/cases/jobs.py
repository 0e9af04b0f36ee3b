"""Cases' periodic work: the credit clock's reminders (filled in by the cases work)."""

from __future__ import annotations

from partnerguard.common.runtime import PeriodicJob
from partnerguard.enforcement.settings import EnforcementSettings


def case_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    return []
