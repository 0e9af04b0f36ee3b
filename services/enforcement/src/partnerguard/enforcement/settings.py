"""The enforcement service's settings, from the environment only."""

from __future__ import annotations

from pydantic import Field

from partnerguard.common.settings import ServiceSettings


class EnforcementSettings(ServiceSettings):
    service_name: str = "enforcement"
    port: int = 8004
    auth_audience: str = "partnerguard:enforcement"

    # The vendor's partner API. Without a URL, the local adapter records changes as made
    # (development, and partners that act on the vendor's side themselves).
    provider_url: str | None = None
    provider_token: str | None = Field(default=None, repr=False)
    provider_timeout_seconds: float = 10.0
    provider_retries: int = 2
    # Failed operations are retried after this, doubled per attempt (at most an hour), then
    # given up after provider_max_attempts (the reconciler starts a fresh one later).
    provider_retry_seconds: float = 5.0
    provider_max_attempts: int = 8
    provider_interval_seconds: float = 1.0
    provider_batch_size: int = 50
    # How often the reconciler reads the vendor's actual status of every held subscription.
    reconcile_interval_seconds: float = 300.0

    # Events handled at once per consumer (those about one customer keep their order); each
    # holds a database connection while it is handled, so keep it within the pool.
    event_concurrency: int = Field(default=8, ge=1, le=64)

    # How long an audit entry may wait to be chained (reading the log chains it at once).
    audit_chain_interval_seconds: float = Field(default=1.0, gt=0)

    # Approvals lapse after this unless the policy rule says otherwise.
    approval_ttl_hours: float = 72.0
    # The credit clock's reminders, days before the deadline.
    credit_reminder_days: tuple[int, ...] = (30, 7, 1)
    credit_clock_interval_seconds: float = 3600.0
