"""Identity checks: the HTTP adapter against a fake identity service, and the local one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from partnerguard.common.adapters.http import ProviderClient, RetryPolicy
from partnerguard.onboarding.adapters.identity import (
    HttpIdentityChecker,
    IdentityRequest,
    LocalIdentityChecker,
)
from partnerguard.onboarding.scoring.facts import CheckResult
from tests.support.onboarding_fakes import FakeIdentityService, captured_logs

FAST = RetryPolicy(timeout_seconds=0.2, retries=2, backoff_seconds=0.01)


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


def identity_request(**changes: str | None) -> IdentityRequest:
    fields: dict[str, str | None] = {
        "company_name": "Acme GmbH",
        "country": "DE",
        "registration_number": "HRB 12345",
        "contact_name": "Ada Lovelace",
        "contact_email": "ada@acme.example",
        "contact_phone": "+4915112345678",
    }
    fields.update(changes)
    return IdentityRequest.model_validate(fields)


@pytest.fixture(scope="module")
def service() -> Iterator[FakeIdentityService]:
    with FakeIdentityService() as server:
        yield server


@pytest.fixture
async def checker(service: FakeIdentityService) -> AsyncIterator[HttpIdentityChecker]:
    service.reset()
    async with httpx.AsyncClient() as http:
        client = ProviderClient(http, "identity-service", policy=FAST)
        yield HttpIdentityChecker(client, base_url=f"{service.base_url}/")


async def test_check_posts_the_request_and_reads_the_verdict(
    checker: HttpIdentityChecker, service: FakeIdentityService
) -> None:
    answer = await checker.check(identity_request())

    [request] = service.requests
    assert request.path == "/v1/identity-checks"
    assert request.body == identity_request().model_dump()
    assert answer.provider == "identity-service"
    assert answer.result is CheckResult.PASSED
    assert answer.reference == "idc_1"
    assert answer.raw == {"id": "idc_1", "result": "passed"}


async def test_a_failed_check_reads_as_failed(
    checker: HttpIdentityChecker, service: FakeIdentityService
) -> None:
    service.decide("HRB 666", "failed")

    answer = await checker.check(identity_request(registration_number="HRB 666"))

    assert answer.result is CheckResult.FAILED


async def test_the_whole_answer_is_kept_for_audit(
    checker: HttpIdentityChecker, service: FakeIdentityService
) -> None:
    service.extra.update({"checks": {"registry": "match", "person": "match"}, "confidence": 0.93})

    answer = await checker.check(identity_request())

    assert answer.raw["checks"] == {"registry": "match", "person": "match"}
    assert answer.raw["confidence"] == 0.93


@pytest.mark.parametrize("verdict", ["needs_review", "expired", "PASSED", ""])
async def test_an_unknown_verdict_reads_as_inconclusive(
    checker: HttpIdentityChecker,
    service: FakeIdentityService,
    verdict: str,
    logs: list[MutableMapping[str, Any]],
) -> None:
    service.decide("Acme GmbH", verdict)

    answer = await checker.check(identity_request(registration_number=None))

    assert answer.result is CheckResult.INCONCLUSIVE
    assert answer.raw["result"] == verdict
    # A retry (a loaded machine can take the fake past the 0.2 s timeout) is not the point here.
    assert [(e["event"], e["provider"]) for e in logs if e["event"] != "adapter.retry"] == [
        ("adapter.unknown_result", "identity-service")
    ]


async def test_answer_is_immutable(checker: HttpIdentityChecker) -> None:
    answer = await checker.check(identity_request())

    with pytest.raises(ValueError, match="frozen"):
        answer.result = CheckResult.FAILED  # type: ignore[misc]


async def test_local_checker_answers_inconclusive() -> None:
    answer = await LocalIdentityChecker().check(identity_request())

    assert answer.provider == "local"
    assert answer.result is CheckResult.INCONCLUSIVE
    assert answer.reference is None
    assert answer.raw == {"provider": "local", "note": "no identity service configured"}
