"""The dunning service's periodic work: the scheduled sweep and the notice sender."""

from __future__ import annotations

from partnerguard.billing.settings import BillingSettings
from partnerguard.common.runtime import PeriodicJob


def dunning_jobs(settings: BillingSettings) -> list[PeriodicJob]:
    return []
