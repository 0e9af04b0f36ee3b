"""What every HTTP adapter shares: retries, timeouts, refusals and the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import ProviderClient, RetryPolicy
from partnerguard.onboarding.adapters.credit import CreditRequest, HttpCreditBureau
from partnerguard.onboarding.adapters.identity import HttpIdentityChecker, IdentityRequest
from partnerguard.onboarding.adapters.sanctions import ScreeningRequest, YenteScreener
from partnerguard.onboarding.adapters.sms import HttpSmsGateway
from tests.support.onboarding_fakes import (
    FakeCreditBureau,
    FakeIdentityService,
    FakeProvider,
    FakeSmsGateway,
    FakeYente,
    captured_logs,
)

FAST = RetryPolicy(timeout_seconds=0.2, retries=2, backoff_seconds=0.01)
TOKEN = "tok-very-secret-4711"


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


@dataclass
class Provider:
    """One running fake and a way to make one call through its adapter."""

    fake: FakeProvider
    call: Callable[[ProviderClient], Awaitable[object]]


def _providers(
    sms: FakeSmsGateway, identity: FakeIdentityService, credit: FakeCreditBureau, yente: FakeYente
) -> dict[str, Provider]:
    async def send_sms(client: ProviderClient) -> object:
        await HttpSmsGateway(client, url=sms.url, sender="PG").send("+4915112345678", "Code 1234")
        return None

    async def check_identity(client: ProviderClient) -> object:
        return await HttpIdentityChecker(client, base_url=identity.base_url).check(
            IdentityRequest(
                company_name="Acme GmbH",
                country="DE",
                contact_name="Ada",
                contact_email="ada@acme.example",
                contact_phone="+4915112345678",
            )
        )

    async def credit_report(client: ProviderClient) -> object:
        return await HttpCreditBureau(client, base_url=credit.base_url).report(
            CreditRequest(company_name="Acme GmbH", country="DE")
        )

    async def screen(client: ProviderClient) -> object:
        screener = YenteScreener(client, base_url=yente.base_url, dataset="default", threshold=0.7)
        return await screener.screen(
            ScreeningRequest(company_name="Acme GmbH", company_country="DE", contact_name="Ada")
        )

    return {
        "sms": Provider(sms, send_sms),
        "identity": Provider(identity, check_identity),
        "credit": Provider(credit, credit_report),
        "yente": Provider(yente, screen),
    }


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, Provider]]:
    fakes = (FakeSmsGateway(), FakeIdentityService(), FakeCreditBureau(), FakeYente())
    for fake in fakes:
        fake.start()
    yield _providers(*fakes)
    for fake in fakes:
        fake.stop()


@pytest.fixture(params=["sms", "identity", "credit", "yente"])
def provider(request: pytest.FixtureRequest, providers: dict[str, Provider]) -> Provider:
    chosen = providers[request.param]
    chosen.fake.reset()
    return chosen


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _client(http: httpx.AsyncClient, policy: RetryPolicy = FAST) -> ProviderClient:
    return ProviderClient(http, "test-provider", token=SecretStr(TOKEN), policy=policy)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_until_success(
    provider: Provider, http: httpx.AsyncClient, status: int
) -> None:
    provider.fake.fail_next(2, status=status)

    await provider.call(_client(http))

    assert len(provider.fake.requests) == 3


async def test_gives_up_after_the_allowed_retries(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    provider.fake.fail_next(3, status=500)

    with pytest.raises(AdapterError, match="test-provider: answered HTTP 500 after 3") as error:
        await provider.call(_client(http))

    assert error.value.provider == "test-provider"
    assert len(provider.fake.requests) == 3


async def test_too_many_requests_is_retried_after_retry_after(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    provider.fake.fail_next(1, status=429, retry_after="0")

    await provider.call(_client(http))

    assert len(provider.fake.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    provider: Provider, http: httpx.AsyncClient, status: int
) -> None:
    provider.fake.fail_next(1, status=status)

    with pytest.raises(AdapterError, match=f"answered HTTP {status}$"):
        await provider.call(_client(http))

    assert len(provider.fake.requests) == 1


async def test_a_provider_slower_than_the_timeout_fails(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    provider.fake.hang_next(1, seconds=2.0)

    with pytest.raises(AdapterError, match="timed out after 1 attempt"):
        await provider.call(_client(http, RetryPolicy(timeout_seconds=0.2, retries=0)))

    assert len(provider.fake.requests) == 1


async def test_a_timeout_is_retried(provider: Provider, http: httpx.AsyncClient) -> None:
    provider.fake.hang_next(1, seconds=2.0)

    await provider.call(_client(http))

    assert len(provider.fake.requests) == 2


async def test_every_attempt_carries_the_same_idempotency_key(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    provider.fake.fail_next(1, status=502)

    await provider.call(_client(http))

    keys = {r.header("Idempotency-Key") for r in provider.fake.requests}
    assert len(keys) == 1
    assert None not in keys


async def test_an_unreachable_provider_fails_after_retries(http: httpx.AsyncClient) -> None:
    closed = FakeSmsGateway()  # never started: nothing listens on its port
    gateway = HttpSmsGateway(_client(http), url=closed.url, sender="PG")

    with pytest.raises(AdapterError, match=r"unreachable \(ConnectError\) after 3"):
        await gateway.send("+4915112345678", "hi")


async def test_an_unsupported_url_fails_without_retrying(http: httpx.AsyncClient) -> None:
    gateway = HttpSmsGateway(_client(http), url="ftp://sms.invalid/send", sender="PG")

    with pytest.raises(AdapterError, match=r"failed \(UnsupportedProtocol\)"):
        await gateway.send("+4915112345678", "hi")


async def test_the_bearer_token_is_sent_and_never_logged(
    provider: Provider,
    http: httpx.AsyncClient,
    logs: list[MutableMapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider.fake.fail_next(1, status=503)
    await provider.call(_client(http))
    provider.fake.fail_next(1, status=401)
    with pytest.raises(AdapterError) as error:
        await provider.call(_client(http))

    assert {r.header("Authorization") for r in provider.fake.requests} == {f"Bearer {TOKEN}"}
    events = [entry["event"] for entry in logs]
    assert "adapter.retry" in events
    assert "adapter.rejected" in events
    assert TOKEN not in repr(logs) + caplog.text + str(error.value)


async def test_no_authorization_header_without_a_token(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    await provider.call(ProviderClient(http, "test-provider", policy=FAST))

    assert provider.fake.requests[0].header("Authorization") is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(backoff_seconds=0.1, max_backoff_seconds=0.3)

    assert 0.05 <= policy.delay(1) <= 0.1
    assert 0.1 <= policy.delay(2) <= 0.2
    assert 0.15 <= policy.delay(5) <= 0.3
    assert policy.delay(1, retry_after=100) == 0.3


def test_a_negative_retry_count_still_makes_one_attempt() -> None:
    assert RetryPolicy(retries=-1).attempts == 1
