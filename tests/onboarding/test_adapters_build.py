"""build_adapters: real adapters where the settings configure a provider, local ones elsewhere."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from pydantic import SecretStr

from partnerguard.common.adapters.email import LogEmailSender, SmtpEmailSender
from partnerguard.onboarding.adapters import Adapters, build_adapters
from partnerguard.onboarding.adapters.credit import HttpCreditBureau, LocalCreditBureau
from partnerguard.onboarding.adapters.identity import HttpIdentityChecker, LocalIdentityChecker
from partnerguard.onboarding.adapters.sanctions import LocalSanctionsScreener, YenteScreener
from partnerguard.onboarding.adapters.sms import HttpSmsGateway, LogSmsSender
from partnerguard.onboarding.settings import OnboardingSettings
from tests.support.onboarding_fakes import captured_logs


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


def settings(**values: object) -> OnboardingSettings:
    return OnboardingSettings.model_validate(values)


async def test_without_urls_every_adapter_is_local() -> None:
    adapters = build_adapters(settings())

    assert isinstance(adapters.sms, LogSmsSender)
    assert isinstance(adapters.email, LogEmailSender)
    assert isinstance(adapters.identity, LocalIdentityChecker)
    assert isinstance(adapters.credit, LocalCreditBureau)
    assert isinstance(adapters.sanctions, LocalSanctionsScreener)
    assert adapters.sanctions.configured is False
    await adapters.aclose()


async def test_configured_providers_get_real_adapters() -> None:
    adapters = build_adapters(
        settings(
            sms_gateway_url="http://sms.invalid/send",
            sms_gateway_token=SecretStr("t"),
            smtp_host="smtp.invalid",
            identity_service_url="http://identity.invalid",
            credit_bureau_url="http://credit.invalid",
            sanctions_url="http://yente.invalid",
        )
    )

    assert isinstance(adapters.sms, HttpSmsGateway)
    assert isinstance(adapters.email, SmtpEmailSender)
    assert isinstance(adapters.identity, HttpIdentityChecker)
    assert isinstance(adapters.credit, HttpCreditBureau)
    assert isinstance(adapters.sanctions, YenteScreener)
    assert adapters.sanctions.configured is True
    await adapters.aclose()


async def test_settings_decide_timeout_and_retries() -> None:
    adapters = build_adapters(
        settings(smtp_host="smtp.invalid", adapter_timeout_seconds=3.5, adapter_retries=4)
    )

    assert isinstance(adapters.email, SmtpEmailSender)
    assert adapters.email.policy.timeout_seconds == 3.5
    assert adapters.email.policy.retries == 4
    await adapters.aclose()


async def test_aclose_closes_the_shared_http_client() -> None:
    adapters = build_adapters(settings(identity_service_url="http://identity.invalid"))
    assert adapters.http is not None

    await adapters.aclose()

    assert adapters.http.is_closed


async def test_local_adapters_outside_dev_are_warned_about(
    logs: list[MutableMapping[str, Any]],
) -> None:
    adapters = build_adapters(
        settings(environment="production", identity_service_url="http://identity.invalid")
    )
    await adapters.aclose()

    warnings = [entry for entry in logs if entry["event"] == "adapters.local_in_use"]
    assert {entry["adapter"] for entry in warnings} == {"sms", "email", "credit", "sanctions"}
    assert {(entry["log_level"], entry["environment"]) for entry in warnings} == {
        ("warning", "production")
    }


async def test_local_adapters_in_dev_are_not_warned_about(
    logs: list[MutableMapping[str, Any]],
) -> None:
    adapters: Adapters = build_adapters(settings(environment="dev"))
    await adapters.aclose()

    assert logs == []
