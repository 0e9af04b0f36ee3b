"""Sending SMS: the HTTP gateway adapter against a fake gateway, and the dev logger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from partnerguard.common.adapters.http import ProviderClient, RetryPolicy
from partnerguard.onboarding.adapters.sms import HttpSmsGateway, LogSmsSender
from tests.support.onboarding_fakes import FakeSmsGateway, captured_logs

FAST = RetryPolicy(timeout_seconds=0.2, retries=2, backoff_seconds=0.01)


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


@pytest.fixture(scope="module")
def gateway_server() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as server:
        yield server


@pytest.fixture
async def gateway(gateway_server: FakeSmsGateway) -> AsyncIterator[HttpSmsGateway]:
    gateway_server.reset()
    async with httpx.AsyncClient() as http:
        client = ProviderClient(http, "sms-gateway", token=SecretStr("sms-token"), policy=FAST)
        yield HttpSmsGateway(client, url=gateway_server.url, sender="PartnerGuard")


async def test_message_reaches_the_gateway_as_from_to_text(
    gateway: HttpSmsGateway, gateway_server: FakeSmsGateway
) -> None:
    await gateway.send("+4915112345678", "Your PartnerGuard code is 493027")

    [request] = gateway_server.requests
    assert request.path == "/sms"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Authorization") == "Bearer sms-token"
    assert request.body == {
        "from": "PartnerGuard",
        "to": "+4915112345678",
        "text": "Your PartnerGuard code is 493027",
    }
    assert gateway_server.messages == [request.body]


async def test_fake_gateway_finds_the_last_code_sent_to_a_number(
    gateway: HttpSmsGateway, gateway_server: FakeSmsGateway
) -> None:
    await gateway.send("+4915112345678", "Your code is 111111")
    await gateway.send("+4915112345678", "Your code is 222222")
    await gateway.send("+4930123456", "Your code is 333333")

    assert gateway_server.last_code_for("+4915112345678") == "222222"
    assert gateway_server.last_code_for("+4930123456") == "333333"
    assert gateway_server.last_code_for("+441234567890") is None


async def test_failed_attempts_are_not_counted_as_messages(
    gateway: HttpSmsGateway, gateway_server: FakeSmsGateway
) -> None:
    gateway_server.fail_next(1, status=503)

    await gateway.send("+4915112345678", "Your code is 555555")

    assert len(gateway_server.requests) == 2
    assert len(gateway_server.messages) == 1


async def test_dev_sender_logs_the_number_and_text(
    logs: list[MutableMapping[str, Any]],
) -> None:
    await LogSmsSender().send("+4915112345678", "Your code is 864209")

    assert logs == [
        {
            "event": "sms.dev_send",
            "log_level": "info",
            "to": "+4915112345678",
            "text": "Your code is 864209",
        }
    ]
