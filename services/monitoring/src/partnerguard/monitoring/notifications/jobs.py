"""The notification clock: notices whose stage deadline passed are announced overdue, once per stage
(filled in by the notifications work)."""

from __future__ import annotations

from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.monitoring.settings import MonitoringSettings

CLOCK_JOB = "notification-clock"


def notification_clock_job(settings: MonitoringSettings) -> PeriodicJob:
    async def run(runtime: Runtime) -> None:
        raise NotImplementedError

    return PeriodicJob(CLOCK_JOB, settings.notification_clock_interval_seconds, run)
