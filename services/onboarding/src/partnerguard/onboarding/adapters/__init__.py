"""The onboarding service's outbound integrations, each behind a Protocol.

Each has one real implementation over the network and one local one for development and for
deployments that lack the provider: ``build_adapters`` picks the real one when its URL (or SMTP
host) is configured. The adapter set shares one HTTP client; close it with ``Adapters.aclose``
at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog

from partnerguard.common.adapters.email import EmailSender, LogEmailSender, build_email_sender
from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import ProviderClient, RetryPolicy, new_http_client
from partnerguard.onboarding.adapters.answers import ProviderAnswer
from partnerguard.onboarding.adapters.credit import (
    CreditBureau,
    CreditRequest,
    HttpCreditBureau,
    LocalCreditBureau,
)
from partnerguard.onboarding.adapters.identity import (
    HttpIdentityChecker,
    IdentityChecker,
    IdentityRequest,
    LocalIdentityChecker,
)
from partnerguard.onboarding.adapters.sanctions import (
    LocalSanctionsScreener,
    SanctionsScreener,
    ScreeningAnswer,
    ScreeningRequest,
    YenteScreener,
)
from partnerguard.onboarding.adapters.sms import HttpSmsGateway, LogSmsSender, SmsSender
from partnerguard.onboarding.settings import OnboardingSettings

__all__ = [
    "AdapterError",
    "Adapters",
    "CreditBureau",
    "CreditRequest",
    "EmailSender",
    "IdentityChecker",
    "IdentityRequest",
    "ProviderAnswer",
    "SanctionsScreener",
    "ScreeningAnswer",
    "ScreeningRequest",
    "SmsSender",
    "build_adapters",
]

log = structlog.get_logger()


@dataclass
class Adapters:
    """The outbound adapters one process uses, and the HTTP client they share."""

    sms: SmsSender
    email: EmailSender
    identity: IdentityChecker
    credit: CreditBureau
    sanctions: SanctionsScreener
    http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        """Close the shared HTTP client; call once at shutdown."""
        if self.http is not None:
            await self.http.aclose()


def build_adapters(settings: OnboardingSettings, *, policy: RetryPolicy | None = None) -> Adapters:
    """Real adapters where the settings configure a provider, local ones elsewhere.

    Outside the ``dev`` environment each local adapter logs a warning at startup: the local SMS
    and e-mail senders write verification codes to the log, which is for development only.
    """
    policy = policy or RetryPolicy(
        timeout_seconds=settings.adapter_timeout_seconds, retries=settings.adapter_retries
    )
    http = new_http_client("onboarding")
    local: list[str] = []

    sms: SmsSender
    if settings.sms_gateway_url:
        sms = HttpSmsGateway(
            ProviderClient(http, "sms-gateway", token=settings.sms_gateway_token, policy=policy),
            url=settings.sms_gateway_url,
            sender=settings.sms_sender,
        )
    else:
        sms = LogSmsSender()
        local.append("sms")

    email = build_email_sender(settings, policy)
    if isinstance(email, LogEmailSender):
        local.append("email")

    identity: IdentityChecker
    if settings.identity_service_url:
        identity = HttpIdentityChecker(
            ProviderClient(
                http, "identity-service", token=settings.identity_service_token, policy=policy
            ),
            base_url=settings.identity_service_url,
        )
    else:
        identity = LocalIdentityChecker()
        local.append("identity")

    credit: CreditBureau
    if settings.credit_bureau_url:
        credit = HttpCreditBureau(
            ProviderClient(
                http, "credit-bureau", token=settings.credit_bureau_token, policy=policy
            ),
            base_url=settings.credit_bureau_url,
        )
    else:
        credit = LocalCreditBureau()
        local.append("credit")

    sanctions: SanctionsScreener
    if settings.sanctions_url:
        sanctions = YenteScreener(
            ProviderClient(http, "yente", policy=policy),
            base_url=settings.sanctions_url,
            dataset=settings.sanctions_dataset,
            threshold=settings.sanctions_match_threshold,
        )
    else:
        sanctions = LocalSanctionsScreener()
        local.append("sanctions")

    if local and settings.environment != "dev":
        for adapter in local:
            log.warning("adapters.local_in_use", adapter=adapter, environment=settings.environment)
    return Adapters(
        sms=sms, email=email, identity=identity, credit=credit, sanctions=sanctions, http=http
    )
