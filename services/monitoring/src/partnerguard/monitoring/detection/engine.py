"""Runs the partner's usage detectors over a customer-day whose spend changed (filled in by the
detection work)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.models import Alert, CustomerDay


async def run_detectors(
    session: AsyncSession, day: CustomerDay, config: DetectionConfig, now: datetime
) -> list[Alert]:
    """Spend anomaly (daily and hourly), new-customer burst, crypto-mining and first-seen, each
    when enabled; the alerts newly raised."""
    raise NotImplementedError
