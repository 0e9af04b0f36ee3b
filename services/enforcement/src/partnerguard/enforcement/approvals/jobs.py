"""Approvals' periodic work: lapsing requests nobody decided in time."""

from __future__ import annotations

from datetime import UTC, datetime

from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.enforcement.approvals.service import expire_lapsed
from partnerguard.enforcement.settings import EnforcementSettings

EXPIRY_JOB = "approval-expiry"
# Lapsing is not urgent to the minute: an expired request already refuses approval (409).
EXPIRY_INTERVAL_SECONDS = 60.0
EXPIRY_BATCH = 200


def approval_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    async def expire(runtime: Runtime) -> None:
        while not runtime.draining:
            if (
                await expire_lapsed(runtime.db, datetime.now(UTC), batch=EXPIRY_BATCH)
                < EXPIRY_BATCH
            ):
                return

    return [PeriodicJob(EXPIRY_JOB, EXPIRY_INTERVAL_SECONDS, expire, singleton=True)]
