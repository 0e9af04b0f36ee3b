"""The billing service's settings, from the environment only."""

from __future__ import annotations

from pydantic import Field

from partnerguard.common.adapters.email import SmtpSettings
from partnerguard.common.settings import ServiceSettings


class BillingSettings(ServiceSettings, SmtpSettings):
    service_name: str = "billing"
    port: int = 8002
    auth_audience: str = "partnerguard:billing"

    # Accounts opened from onboarding's approval take these terms by risk tier (minor units of
    # the default currency); the partner may change any account's terms afterwards.
    default_currency: str = "USD"
    default_country: str = "US"
    tier_credit_limits: dict[str, int] = Field(
        default_factory=lambda: {"low": 5_000_000, "medium": 1_000_000, "high": 250_000}
    )
    tier_prepayment_amounts: dict[str, int] = Field(
        default_factory=lambda: {"low": 50_000, "medium": 100_000, "high": 250_000}
    )
    # Business days a reported payment may take to post; dunning of the account pauses meanwhile.
    payment_posting_business_days: int = 5
    # An operator's own BIN table (CSV: prefix,funding,brand,country), over the built-in one.
    bin_table_path: str | None = None

    # The scheduled dunning sweep (every partner, as of today) and the notice sender.
    dunning_interval_seconds: float = 3600.0
    dunning_batch_size: int = 5000
    notice_interval_seconds: float = 10.0
    notice_batch_size: int = 100
    notice_max_attempts: int = 5
    # A refused notice is retried after this, doubled per attempt (at most six hours).
    notice_retry_seconds: float = 60.0
    adapter_timeout_seconds: float = 10.0
    adapter_retries: int = 2
