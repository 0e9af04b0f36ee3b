"""The onboarding service's settings, from the environment only."""

from __future__ import annotations

from pydantic import SecretStr

from partnerguard.common.adapters.email import SmtpSettings
from partnerguard.common.settings import ServiceSettings


class OnboardingSettings(ServiceSettings, SmtpSettings):
    service_name: str = "onboarding"
    port: int = 8001
    auth_audience: str = "partnerguard:onboarding"

    # One-time codes sent by SMS and e-mail.
    verification_code_length: int = 6
    verification_code_ttl_seconds: int = 600
    verification_max_attempts: int = 5
    verification_resend_cooldown_seconds: int = 60
    verification_max_sends: int = 5

    # Outbound adapters. Unset URLs mean the local adapter: codes and notices are logged (dev),
    # identity and credit checks answer "inconclusive", sanctions screening is skipped.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender: str = "PartnerGuard"
    identity_service_url: str | None = None
    identity_service_token: SecretStr | None = None
    credit_bureau_url: str | None = None
    credit_bureau_token: SecretStr | None = None
    # An OpenSanctions yente server (https://github.com/opensanctions/yente).
    sanctions_url: str | None = None
    sanctions_dataset: str = "default"
    sanctions_match_threshold: float = 0.7
    adapter_timeout_seconds: float = 10.0
    adapter_retries: int = 2
