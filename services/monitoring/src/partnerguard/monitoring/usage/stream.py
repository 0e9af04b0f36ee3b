"""The USAGE stream's consumer (being written: ingestion lands next)."""

from __future__ import annotations

from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.runtime import Consumer
from partnerguard.monitoring.settings import MonitoringSettings


def usage_consumer(settings: MonitoringSettings) -> Consumer:
    return Consumer(
        ConsumerSpec(durable="monitoring-usage", stream="USAGE", subjects=["usage.*.records"]),
        Handlers(),
    )
