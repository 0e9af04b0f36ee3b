"""Approvals' periodic work: lapsing requests (filled in by the approvals work)."""

from __future__ import annotations

from partnerguard.common.runtime import PeriodicJob
from partnerguard.enforcement.settings import EnforcementSettings


def approval_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    return []
