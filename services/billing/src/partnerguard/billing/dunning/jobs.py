"""The dunning service's periodic work: the scheduled sweep and the notice sender."""

from __future__ import annotations

from datetime import UTC, datetime

from partnerguard.billing.dunning.engine import run_dunning_sweep
from partnerguard.billing.dunning.notices import send_pending_notices
from partnerguard.billing.dunning.schemas import RunTrigger
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.adapters.email import build_email_sender
from partnerguard.common.adapters.http import RetryPolicy
from partnerguard.common.runtime import PeriodicJob, Runtime

SWEEP_JOB = "dunning-sweep"
NOTICE_JOB = "dunning-notices"


def dunning_jobs(settings: BillingSettings) -> list[PeriodicJob]:
    """The sweep (one replica at a time, every partner, as of today UTC) and the notice
    sender (any number at once; they share the pending notices)."""
    sender = build_email_sender(
        settings,
        RetryPolicy(
            timeout_seconds=settings.adapter_timeout_seconds, retries=settings.adapter_retries
        ),
    )

    async def sweep(runtime: Runtime) -> None:
        await run_dunning_sweep(
            runtime.db,
            as_of=datetime.now(UTC).date(),
            partner_id=None,
            trigger=RunTrigger.SCHEDULE,
            requested_by=None,
            batch_size=settings.dunning_batch_size,
            should_stop=lambda: runtime.draining,
        )

    async def send_notices(runtime: Runtime) -> None:
        while not runtime.draining:
            done = await send_pending_notices(
                runtime.db,
                sender,
                batch=settings.notice_batch_size,
                max_attempts=settings.notice_max_attempts,
                backoff_seconds=settings.notice_retry_seconds,
            )
            # A short batch: nothing more is pending (or the rest is another sender's). A
            # refusal: the server is struggling, and the refused notices would come straight
            # back; both wait for the next round.
            if done.claimed < settings.notice_batch_size or done.retrying or done.failed:
                return

    return [
        PeriodicJob(SWEEP_JOB, settings.dunning_interval_seconds, sweep, singleton=True),
        PeriodicJob(NOTICE_JOB, settings.notice_interval_seconds, send_notices, singleton=False),
    ]
