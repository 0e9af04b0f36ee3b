"""The evaluation job: each changed customer-day is published, budget-checked and run through
the detectors, once per change however many batches touched it and whichever replica runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog

from partnerguard.common.db.engine import Database
from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.monitoring.budgets.evaluation import evaluate_budget
from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.engine import run_detectors
from partnerguard.monitoring.detection.settings import load_config
from partnerguard.monitoring.evaluation.repository import CustomerDayRepository
from partnerguard.monitoring.settings import MonitoringSettings
from partnerguard.monitoring.usage.spend import publish_daily_spend

log = structlog.get_logger()

EVALUATION_JOB = "usage-evaluation"


async def evaluate_changed_days(db: Database, *, batch: int, now: datetime | None = None) -> int:
    """Evaluate up to ``batch`` changed customer-days in one transaction; how many were."""
    async with db.sweep_session() as session:
        days = await CustomerDayRepository(session).claim_pending(batch)
        configs: dict[uuid.UUID, DetectionConfig] = {}
        for day in days:
            at = now or datetime.now(UTC)
            config = configs.get(day.partner_id)
            if config is None:
                config = configs[day.partner_id] = await load_config(session, day.partner_id)
            await publish_daily_spend(session, day)
            await evaluate_budget(session, day.partner_id, day.customer_id, day.day, at)
            await run_detectors(session, day, config, at)
        await CustomerDayRepository(session).mark_evaluated(days)
    if days:
        log.info("usage.evaluated", days=len(days))
    return len(days)


async def evaluate_all(db: Database, *, batch: int, now: datetime | None = None) -> int:
    """Evaluate until nothing is pending; how many days were."""
    total = 0
    while done := await evaluate_changed_days(db, batch=batch, now=now):
        total += done
        if done < batch:
            break
    return total


def evaluation_job(settings: MonitoringSettings) -> PeriodicJob:
    async def run(runtime: Runtime) -> None:
        while not runtime.draining:
            if (
                await evaluate_changed_days(runtime.db, batch=settings.evaluation_batch_size)
                < settings.evaluation_batch_size
            ):
                return

    # Not a singleton: evaluators share the queue through SKIP LOCKED.
    return PeriodicJob(EVALUATION_JOB, settings.evaluation_interval_seconds, run, singleton=False)
