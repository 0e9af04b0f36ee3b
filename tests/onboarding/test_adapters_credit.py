"""Credit reports: the HTTP adapter against a fake credit bureau, and the local one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from partnerguard.common.adapters.http import ProviderClient, RetryPolicy
from partnerguard.onboarding.adapters.credit import (
    CreditRequest,
    HttpCreditBureau,
    LocalCreditBureau,
)
from partnerguard.onboarding.scoring.facts import CheckResult
from tests.support.onboarding_fakes import FakeCreditBureau, captured_logs

FAST = RetryPolicy(timeout_seconds=0.2, retries=2, backoff_seconds=0.01)
ADDRESS = {"line1": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


@pytest.fixture(scope="module")
def bureau_server() -> Iterator[FakeCreditBureau]:
    with FakeCreditBureau() as server:
        yield server


@pytest.fixture
async def bureau(bureau_server: FakeCreditBureau) -> AsyncIterator[HttpCreditBureau]:
    bureau_server.reset()
    async with httpx.AsyncClient() as http:
        client = ProviderClient(http, "credit-bureau", policy=FAST)
        yield HttpCreditBureau(client, base_url=bureau_server.base_url)


async def test_report_posts_the_company_and_reads_the_decision(
    bureau: HttpCreditBureau, bureau_server: FakeCreditBureau
) -> None:
    request = CreditRequest(
        company_name="Acme GmbH", country="DE", registration_number="HRB 1", address=ADDRESS
    )

    answer = await bureau.report(request)

    [received] = bureau_server.requests
    assert received.path == "/v1/business-reports"
    assert received.body == {
        "company_name": "Acme GmbH",
        "country": "DE",
        "registration_number": "HRB 1",
        "address": ADDRESS,
    }
    assert answer.provider == "credit-bureau"
    assert answer.result is CheckResult.PASSED
    assert answer.reference == "rep_1"
    assert answer.raw["score"] == 82


async def test_a_declined_company_reads_as_failed(
    bureau: HttpCreditBureau, bureau_server: FakeCreditBureau
) -> None:
    bureau_server.decide("Shady Ltd", "failed")

    answer = await bureau.report(CreditRequest(company_name="Shady Ltd", country="GB"))

    assert answer.result is CheckResult.FAILED
    assert answer.raw["score"] == 12


async def test_an_unknown_decision_reads_as_inconclusive(
    bureau: HttpCreditBureau, bureau_server: FakeCreditBureau
) -> None:
    bureau_server.decide("Acme GmbH", "refer")

    answer = await bureau.report(CreditRequest(company_name="Acme GmbH", country="DE"))

    assert answer.result is CheckResult.INCONCLUSIVE
    assert answer.raw["decision"] == "refer"


async def test_local_bureau_answers_inconclusive() -> None:
    answer = await LocalCreditBureau().report(CreditRequest(company_name="Acme", country="DE"))

    assert answer.provider == "local"
    assert answer.result is CheckResult.INCONCLUSIVE
    assert answer.raw["provider"] == "local"
