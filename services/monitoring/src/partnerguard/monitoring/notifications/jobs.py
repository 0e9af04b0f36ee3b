"""The notification clock: notices whose stage deadline passed are announced overdue, once per stage."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.monitoring.notifications.service import announce_overdue
from partnerguard.monitoring.settings import MonitoringSettings

log = structlog.get_logger()

CLOCK_JOB = "notification-clock"
CLOCK_BATCH = 500


async def check_overdue(db: Database, now: datetime, *, batch: int = CLOCK_BATCH) -> int:
    """Announce every stage, of every partner's notices, that passed its deadline unreached and
    was not announced yet (``monitoring.notification.overdue``); how many were announced.

    Each batch is one sweep transaction whose candidates are locked with SKIP LOCKED, so
    checkers on several replicas, or a notice being moved meanwhile, never announce twice."""
    total = 0
    while True:
        async with db.sweep_session() as session:
            claimed, emitted = await announce_overdue(session, now, batch)
        total += emitted
        # A full batch that announced nothing would be claimed again: stop rather than spin.
        if claimed < batch or emitted == 0:
            break
    if total:
        log.info("notification.clock_checked", overdue=total)
    return total


def notification_clock_job(settings: MonitoringSettings) -> PeriodicJob:
    async def run(runtime: Runtime) -> None:
        await check_overdue(runtime.db, datetime.now(UTC))

    return PeriodicJob(CLOCK_JOB, settings.notification_clock_interval_seconds, run)
