"""The monitoring service's settings, from the environment only.

What a partner tunes (detector thresholds, activity rules, notification deadlines) is data
behind ``/v1/monitoring/detectors``, not settings; these are the operator's knobs.
"""

from __future__ import annotations

from partnerguard.common.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    service_name: str = "monitoring"
    port: int = 8003
    auth_audience: str = "partnerguard:monitoring"

    # Records per HTTP batch or stream message at most.
    usage_batch_max: int = 10_000
    # Activity-log entries per HTTP batch at most.
    activity_batch_max: int = 5_000

    # The evaluation job: customer-days whose spend changed are published as
    # monitoring.spend.daily, checked against their budget and run through the detectors.
    evaluation_interval_seconds: float = 5.0
    evaluation_batch_size: int = 500
    # The notification clock's check for missed deadlines.
    notification_clock_interval_seconds: float = 60.0

    # The USAGE stream's consumer (``usage.<partner_id>.records``).
    usage_consumer_batch: int = 10
