"""Identity checks, credit reports and staff attestations through the API, against fake providers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from partnerguard.common.db.engine import Database
from partnerguard.onboarding.settings import OnboardingSettings
from tests.support.jwks import Issuer
from tests.support.onboarding import RunningOnboarding, application_body, running_onboarding
from tests.support.onboarding_fakes import FakeCreditBureau, FakeIdentityService, FakeYente

CUSTOMERS = "/v1/onboarding/customers"
COMPLETED = "onboarding.verification.completed"

Serve = Callable[..., AbstractAsyncContextManager[RunningOnboarding]]


@pytest.fixture(scope="module")
def identity_server() -> Iterator[FakeIdentityService]:
    with FakeIdentityService() as server:
        yield server


@pytest.fixture(scope="module")
def credit_server() -> Iterator[FakeCreditBureau]:
    with FakeCreditBureau() as server:
        yield server


@pytest.fixture
def identity(identity_server: FakeIdentityService) -> FakeIdentityService:
    identity_server.reset()
    identity_server.default = "passed"
    return identity_server


@pytest.fixture
def credit(credit_server: FakeCreditBureau) -> FakeCreditBureau:
    credit_server.reset()
    credit_server.default = "passed"
    return credit_server


@pytest.fixture
def serve(
    onboarding_db: Database,
    issuer: Issuer,
    ob_settings: OnboardingSettings,
    identity: FakeIdentityService,
    credit: FakeCreditBureau,
) -> Serve:
    """``async with serve(**settings) as ob``: the API asking the fake providers."""

    @asynccontextmanager
    async def served(**overrides: object) -> AsyncIterator[RunningOnboarding]:
        settings = ob_settings.model_copy(
            update={
                "identity_service_url": identity.base_url,
                "credit_bureau_url": credit.base_url,
                "adapter_retries": 0,
                "adapter_timeout_seconds": 2.0,
                **overrides,
            }
        )
        async with running_onboarding(onboarding_db, issuer, settings) as running:
            yield running

    return served


@pytest.fixture
async def ob(serve: Serve) -> AsyncIterator[RunningOnboarding]:
    async with serve() as running:
        yield running


async def submit(ob: RunningOnboarding, partner_id: uuid.UUID, body: dict[str, Any]) -> Any:
    response = await ob.http.post(CUSTOMERS, json=body, headers=ob.headers(partner_id))
    assert response.status_code == 201, response.text
    return response.json()


async def save_policy(ob: RunningOnboarding, partner_id: uuid.UUID, **policy: Any) -> None:
    response = await ob.http.put(
        "/v1/onboarding/risk-policy",
        json={"policy": policy, "note": "test"},
        headers=ob.headers(partner_id),
    )
    assert response.status_code == 200, response.text


def from_france() -> dict[str, Any]:
    """An application whose signup IP is in another country than the company."""
    body = application_body()
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    return body


def reason_codes(customer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in customer["assessment"]["reasons"]]


async def listed_checks(ob: RunningOnboarding, partner_id: uuid.UUID, customer_id: str) -> Any:
    response = await ob.http.get(
        f"{CUSTOMERS}/{customer_id}/checks", headers=ob.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [("passed", None), ("failed", "identity_failed"), ("inconclusive", "identity_inconclusive")],
)
async def test_an_identity_check_keeps_the_answer_and_rescores(
    ob: RunningOnboarding,
    partner_id: uuid.UUID,
    identity: FakeIdentityService,
    verdict: str,
    reason: str | None,
) -> None:
    identity.default = verdict
    identity.extra["matched_registry"] = "Handelsregister"
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/identity-check", headers=ob.headers(partner_id)
    )

    assert response.status_code == 201, response.text
    check = response.json()["check"]
    assert check["kind"] == "identity"
    assert check["result"] == verdict
    assert check["provider"] == "identity-service"
    assert check["reference"] == "idc_1"
    assert check["requested_by"] == "client-1"
    assert check["raw"] == {"id": "idc_1", "result": verdict, "matched_registry": "Handelsregister"}
    [request] = identity.received("/v1/identity-checks")
    assert request.body["company_name"] == "Contoso GmbH"
    assert request.body["contact_email"] == "erika@contoso.example"
    rescored = response.json()["customer"]
    if reason is None:
        assert not {"identity_failed", "identity_inconclusive"} & set(reason_codes(rescored))
    else:
        assert reason in reason_codes(rescored)
    [event] = await ob.events(partner_id, COMPLETED)
    assert event["data"]["verification_id"] == check["id"]
    assert (event["data"]["channel"], event["data"]["result"]) == ("identity", verdict)
    assert event["data"]["attempts"] == 1
    assert await listed_checks(ob, partner_id, customer["customer_id"]) == [check]


async def test_a_failed_identity_check_sends_the_application_to_review(
    ob: RunningOnboarding, partner_id: uuid.UUID, identity: FakeIdentityService
) -> None:
    identity.decide("HRB 12345", "failed")
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/identity-check",
        json={"note": "registry entry looked odd"},
        headers=ob.headers(partner_id),
    )

    assert response.json()["customer"]["status"] == "in_review"
    history = (
        await ob.http.get(
            f"{CUSTOMERS}/{customer['customer_id']}/history", headers=ob.headers(partner_id)
        )
    ).json()
    [audit] = [h for h in history if h["action"] == "identity_checked"]
    assert audit["reason"] == "registry entry looked odd"
    assert audit["details"]["result"] == "failed"


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [("passed", None), ("failed", "credit_failed"), ("inconclusive", "credit_inconclusive")],
)
async def test_a_credit_report_keeps_the_answer_and_rescores(
    ob: RunningOnboarding,
    partner_id: uuid.UUID,
    credit: FakeCreditBureau,
    verdict: str,
    reason: str | None,
) -> None:
    credit.default = verdict
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/credit-report", headers=ob.headers(partner_id)
    )

    assert response.status_code == 201, response.text
    check = response.json()["check"]
    assert (check["kind"], check["result"], check["provider"]) == (
        "credit",
        verdict,
        "credit-bureau",
    )
    assert check["reference"] == "rep_1"
    assert check["raw"]["decision"] == verdict
    assert "score" in check["raw"]
    [request] = credit.received("/v1/business-reports")
    assert request.body["address"]["city"] == "Berlin"
    codes = reason_codes(response.json()["customer"])
    if reason is None:
        assert not {"credit_failed", "credit_inconclusive"} & set(codes)
    else:
        assert reason in codes
    [event] = await ob.events(partner_id, COMPLETED)
    assert (event["data"]["channel"], event["data"]["result"]) == ("credit", verdict)


@pytest.mark.parametrize("path", ["identity-check", "credit-report"])
async def test_a_provider_failure_is_502_and_nothing_is_stored(
    ob: RunningOnboarding,
    partner_id: uuid.UUID,
    identity: FakeIdentityService,
    credit: FakeCreditBureau,
    path: str,
) -> None:
    identity.fail_next(status=503)
    credit.fail_next(status=503)
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/{path}", headers=ob.headers(partner_id)
    )

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert await listed_checks(ob, partner_id, customer["customer_id"]) == []
    assert await ob.events(partner_id, COMPLETED) == []
    after = await ob.http.get(
        f"{CUSTOMERS}/{customer['customer_id']}", headers=ob.headers(partner_id)
    )
    assert after.json()["assessment"] == customer["assessment"]


async def test_a_provider_that_does_not_answer_in_time_is_a_gateway_error(
    serve: Serve, partner_id: uuid.UUID, identity: FakeIdentityService
) -> None:
    async with serve(adapter_timeout_seconds=0.2) as ob:
        identity.hang_next(seconds=2.0)
        customer = await submit(ob, partner_id, application_body())

        response = await ob.http.post(
            f"{CUSTOMERS}/{customer['customer_id']}/identity-check",
            headers=ob.headers(partner_id),
        )

        assert response.status_code == 502
        assert "timed out" in response.json()["detail"]
        assert await listed_checks(ob, partner_id, customer["customer_id"]) == []


async def test_mfa_attested_as_enforced_meets_a_policy_that_requires_it(
    ob: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await save_policy(ob, partner_id, required_verifications=["mfa"])
    customer = await submit(ob, partner_id, application_body())
    assert customer["pending_requirements"] == ["mfa", "collections_policy"]
    attestation = {
        "enforced": True,
        "attested_by": "it-admin@contoso.example",
        "evidence": "Conditional Access policy 'Require MFA for all users'",
    }

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/mfa-attestation",
        json=attestation,
        headers=ob.headers(partner_id),
    )

    assert response.status_code == 201, response.text
    check = response.json()["check"]
    assert (check["kind"], check["result"], check["provider"]) == ("mfa", "passed", "attestation")
    assert check["raw"] == attestation
    rescored = response.json()["customer"]
    assert rescored["mfa_enforced"] is True
    assert rescored["pending_requirements"] == ["collections_policy"]
    [event] = await ob.events(partner_id, COMPLETED)
    assert (event["data"]["channel"], event["data"]["result"]) == ("mfa", "passed")


async def test_mfa_not_enforced_raises_the_score(
    ob: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    customer = await submit(ob, partner_id, from_france())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/mfa-attestation",
        json={"enforced": False, "attested_by": "Erika Mustermann"},
        headers=ob.headers(partner_id),
    )

    rescored = response.json()["customer"]
    assert rescored["mfa_enforced"] is False
    assert "mfa_not_enforced" in reason_codes(rescored)
    assert rescored["assessment"]["score"] > customer["assessment"]["score"]
    [event] = await ob.events(partner_id, COMPLETED)
    assert (event["data"]["channel"], event["data"]["result"]) == ("mfa", "failed")


async def test_a_confirmed_phone_call_takes_an_application_out_of_review(
    ob: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await save_policy(ob, partner_id, weights={"ip_country_mismatch": 35})
    customer = await submit(ob, partner_id, from_france())
    assert customer["status"] == "in_review"

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/phone-contact",
        json={"confirmed": True, "staff": "Max (sales)", "note": "spoke to the CFO"},
        headers=ob.headers(partner_id),
    )

    assert response.status_code == 201, response.text
    check = response.json()["check"]
    assert (check["kind"], check["result"], check["provider"]) == (
        "phone_contact",
        "passed",
        "staff",
    )
    rescored = response.json()["customer"]
    assert rescored["phone_contact_confirmed"] is True
    assert "phone_contact_confirmed" in reason_codes(rescored)
    assert rescored["assessment"]["score"] == 5
    assert rescored["status"] == "pending_verification"
    # A staff call is the partner's own step: no event for it.
    assert await ob.events(partner_id, COMPLETED) == []


async def test_an_unconfirmed_phone_call_raises_the_score(
    ob: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/phone-contact",
        json={"confirmed": False, "staff": "Max (sales)"},
        headers=ob.headers(partner_id),
    )

    rescored = response.json()["customer"]
    assert rescored["phone_contact_confirmed"] is False
    assert "phone_contact_failed" in reason_codes(rescored)
    assert rescored["status"] == "in_review"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("identity-check", None),
        ("credit-report", None),
        ("mfa-attestation", {"enforced": True, "attested_by": "Erika"}),
        ("phone-contact", {"confirmed": True, "staff": "Max"}),
    ],
)
async def test_a_decided_application_takes_no_more_checks(
    ob: RunningOnboarding,
    partner_id: uuid.UUID,
    identity: FakeIdentityService,
    credit: FakeCreditBureau,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    await save_policy(ob, partner_id, weights={"ip_country_mismatch": 80})
    customer = await submit(ob, partner_id, from_france())
    assert customer["status"] == "rejected"

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/{path}", json=body, headers=ob.headers(partner_id)
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await listed_checks(ob, partner_id, customer["customer_id"]) == []
    assert identity.requests == []
    assert credit.requests == []


async def test_another_partners_customer_is_not_found(
    ob: RunningOnboarding, partner_id: uuid.UUID, identity: FakeIdentityService
) -> None:
    customer = await submit(ob, partner_id, application_body())
    other = ob.headers(uuid.uuid4())
    path = f"{CUSTOMERS}/{customer['customer_id']}"

    answers = [
        await ob.http.post(f"{path}/identity-check", headers=other),
        await ob.http.post(f"{path}/credit-report", headers=other),
        await ob.http.post(
            f"{path}/mfa-attestation", json={"enforced": True, "attested_by": "x"}, headers=other
        ),
        await ob.http.post(
            f"{path}/phone-contact", json={"confirmed": True, "staff": "x"}, headers=other
        ),
        await ob.http.get(f"{path}/checks", headers=other),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert identity.requests == []
    assert await listed_checks(ob, partner_id, customer["customer_id"]) == []


async def test_scopes_are_enforced(ob: RunningOnboarding, partner_id: uuid.UUID) -> None:
    customer = await submit(ob, partner_id, application_body())
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    reader = ob.headers(partner_id, scopes=["onboarding:read"])
    writer = ob.headers(partner_id, scopes=["onboarding:write"])

    checked = await ob.http.post(f"{path}/identity-check", headers=reader)
    attested = await ob.http.post(
        f"{path}/mfa-attestation", json={"enforced": True, "attested_by": "x"}, headers=reader
    )
    listed = await ob.http.get(f"{path}/checks", headers=writer)

    assert [checked.status_code, attested.status_code, listed.status_code] == [403, 403, 403]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("mfa-attestation", {"enforced": True, "attested_by": ""}),
        ("mfa-attestation", {"enforced": True, "attested_by": "x", "evidence": "e" * 2001}),
        ("mfa-attestation", {"attested_by": "x"}),
        ("phone-contact", {"confirmed": "maybe", "staff": "x"}),
        ("phone-contact", {"confirmed": True, "staff": "x" * 201}),
        ("identity-check", {"note": "n" * 2001}),
        ("credit-report", {"unexpected": 1}),
    ],
)
async def test_bad_input_is_a_422_problem(
    ob: RunningOnboarding, partner_id: uuid.UUID, path: str, body: dict[str, Any]
) -> None:
    customer = await submit(ob, partner_id, application_body())

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/{path}", json=body, headers=ob.headers(partner_id)
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert await listed_checks(ob, partner_id, customer["customer_id"]) == []


async def test_a_retried_check_with_the_same_idempotency_key_asks_the_provider_once(
    ob: RunningOnboarding, partner_id: uuid.UUID, identity: FakeIdentityService
) -> None:
    customer = await submit(ob, partner_id, application_body())
    headers = ob.headers(partner_id, **{"Idempotency-Key": "identity-1"})
    path = f"{CUSTOMERS}/{customer['customer_id']}/identity-check"

    first = await ob.http.post(path, headers=headers)
    second = await ob.http.post(path, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert len(identity.received()) == 1


async def test_the_sanctions_screening_at_submission_is_kept_as_a_check(
    serve: Serve, partner_id: uuid.UUID
) -> None:
    with FakeYente() as yente:
        yente.list_entity("Contoso GmbH", score=0.95)
        async with serve(sanctions_url=yente.base_url) as ob:
            customer = await submit(ob, partner_id, application_body())

            [check] = await listed_checks(ob, partner_id, customer["customer_id"])

    assert (check["kind"], check["result"], check["provider"]) == ("sanctions", "failed", "yente")
    assert check["raw"]["responses"]["company"]["results"][0]["caption"] == "Contoso GmbH"


async def test_a_sanctioned_company_is_a_hard_reject(serve: Serve, partner_id: uuid.UUID) -> None:
    with FakeYente() as yente:
        yente.list_entity("Contoso GmbH", score=0.95)
        async with serve(sanctions_url=yente.base_url) as ob:
            customer = await submit(ob, partner_id, application_body())

    assert customer["status"] == "rejected"
    assert customer["assessment"]["hard_reject"] is True
    assert "sanctions_match" in [r["code"] for r in customer["assessment"]["reasons"]]


async def test_an_application_is_refused_while_screening_is_down_and_nothing_is_stored(
    serve: Serve, partner_id: uuid.UUID
) -> None:
    with FakeYente() as yente:
        yente.fail_next(10, status=503)
        async with serve(sanctions_url=yente.base_url) as ob:
            response = await ob.http.post(
                CUSTOMERS, json=application_body(), headers=ob.headers(partner_id)
            )
            listed = await ob.http.get(CUSTOMERS, headers=ob.headers(partner_id))
            events = await ob.events(partner_id)

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert listed.json()["items"] == []
    assert events == []
