"""Cases' periodic work: the credit clock's reminders before the one-time credit's deadline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import structlog

from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.enforcement.cases.service import remind_batch
from partnerguard.enforcement.settings import EnforcementSettings

log = structlog.get_logger()

CREDIT_CLOCK_JOB = "credit-clock"
CLOCK_BATCH = 500


async def send_credit_reminders(
    db: Database,
    today: date,
    *,
    reminder_days: Sequence[int] = (30, 7, 1),
    now: datetime | None = None,
    batch: int = CLOCK_BATCH,
) -> int:
    """Remind, for every partner, of each open account-compromise case whose credit request is
    unfiled and whose deadline is ``reminder_days`` or fewer days away
    (``enforcement.credit_request.deadline_near``), once per threshold; how many were sent.

    A clock that missed days sends only the tightest threshold reached (see ``cases.credit``).
    Each batch is one sweep transaction over rows locked with SKIP LOCKED, so clocks on several
    replicas never remind twice."""
    if not reminder_days:
        return 0
    at = now or datetime.now(UTC)
    total = 0
    after: tuple[date, uuid.UUID] | None = None
    while True:
        async with db.sweep_session() as session:
            claimed, sent = await remind_batch(
                session, today, reminder_days, at, batch=batch, after=after
            )
        total += sent
        if len(claimed) < batch:
            break
        last = claimed[-1]
        assert last.credit_deadline is not None
        after = (last.credit_deadline, last.id)
    if total:
        log.info("credit_clock.reminded", reminders=total)
    return total


def case_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    async def run(runtime: Runtime) -> None:
        await send_credit_reminders(
            runtime.db, datetime.now(UTC).date(), reminder_days=settings.credit_reminder_days
        )

    return [PeriodicJob(CREDIT_CLOCK_JOB, settings.credit_clock_interval_seconds, run)]
