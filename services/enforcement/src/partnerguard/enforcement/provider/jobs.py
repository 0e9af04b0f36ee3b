"""The provider's periodic work (filled in by the provider work)."""

from __future__ import annotations

from partnerguard.common.runtime import PeriodicJob
from partnerguard.enforcement.settings import EnforcementSettings


def provider_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    """The operation runner and the reconciler."""
    return []
