"""The outside world the platform talks to, as local fakes in the test process.

Each fake is a real server on a free port speaking its provider's protocol; the platform is
pointed at them through the environment it is launched with, as an operator would point it at
the real providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.onboarding_fakes import (
    FakeCreditBureau,
    FakeIdentityService,
    FakeSmsGateway,
    FakeSmtpServer,
)
from tests.support.vendor_fake import FakePartnerCenter
from tests.support.webhook_receiver import WebhookReceiver

# The vendor's API insists on it, so a platform that forgot to send it would be refused.
PROVIDER_TOKEN = "e2e-partner-center-token"


@dataclass
class Outside:
    """The vendor's partner API, onboarding's providers, a mail server and a webhook receiver."""

    provider: FakePartnerCenter = field(
        default_factory=lambda: FakePartnerCenter(token=PROVIDER_TOKEN)
    )
    sms: FakeSmsGateway = field(default_factory=FakeSmsGateway)
    identity: FakeIdentityService = field(default_factory=FakeIdentityService)
    credit: FakeCreditBureau = field(default_factory=FakeCreditBureau)
    # Verification codes (onboarding) and dunning notices (billing) arrive here.
    mail: FakeSmtpServer = field(default_factory=FakeSmtpServer)
    # The partners' own integration endpoints, receiving the gateway's webhooks.
    webhooks: WebhookReceiver = field(default_factory=WebhookReceiver)

    def start(self) -> None:
        self.provider.start()
        self.sms.start()
        self.identity.start()
        self.credit.start()
        self.mail.start()
        self.webhooks.start()

    def stop(self) -> None:
        self.webhooks.stop()
        self.mail.stop()
        self.credit.stop()
        self.identity.stop()
        self.sms.stop()
        self.provider.stop()

    def environment(self) -> dict[str, str]:
        """Where the services find these fakes (each service reads only its own variables)."""
        return {
            # enforcement: the vendor's partner API
            "PROVIDER_URL": self.provider.base_url,
            "PROVIDER_TOKEN": PROVIDER_TOKEN,
            # onboarding: SMS, identity and credit checks
            "SMS_GATEWAY_URL": self.sms.url,
            "IDENTITY_SERVICE_URL": self.identity.base_url,
            "CREDIT_BUREAU_URL": self.credit.base_url,
            # onboarding's codes and billing's notices; the fake speaks plain SMTP
            "SMTP_HOST": self.mail.host,
            "SMTP_PORT": str(self.mail.port),
            "SMTP_STARTTLS": "false",
            # gateway: the receiver listens on plain http on loopback, which production refuses
            "WEBHOOKS_ALLOW_HTTP": "true",
            "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
        }
