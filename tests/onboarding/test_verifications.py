"""SMS and e-mail verification codes through the API, against fake SMS and SMTP servers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from partnerguard.common.db.engine import Database
from partnerguard.onboarding.settings import OnboardingSettings
from tests.support.jwks import Issuer
from tests.support.onboarding import (
    RunningOnboarding,
    application_body,
    publish_collections_policy,
    running_onboarding,
)
from tests.support.onboarding_fakes import FakeSmsGateway, FakeSmtpServer, captured_logs

CUSTOMERS = "/v1/onboarding/customers"
COMPLETED = "onboarding.verification.completed"
PHONE = "+4930901820"
EMAIL = "erika@contoso.example"

TEN_DIGITS = re.compile(r"\b\d{10}\b")

Serve = Callable[..., AbstractAsyncContextManager[RunningOnboarding]]


@pytest.fixture(scope="module")
def sms_server() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as server:
        yield server


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def sms(sms_server: FakeSmsGateway) -> FakeSmsGateway:
    sms_server.reset()
    return sms_server


@pytest.fixture
def smtp(smtp_server: FakeSmtpServer) -> FakeSmtpServer:
    smtp_server.reset()
    return smtp_server


@pytest.fixture
def serve(
    onboarding_db: Database,
    issuer: Issuer,
    ob_settings: OnboardingSettings,
    sms: FakeSmsGateway,
    smtp: FakeSmtpServer,
) -> Serve:
    """``async with serve(**settings) as ob``: the API sending through the fakes."""

    @asynccontextmanager
    async def served(**overrides: object) -> AsyncIterator[RunningOnboarding]:
        settings = ob_settings.model_copy(
            update={
                "sms_gateway_url": sms.url,
                "smtp_host": smtp.host,
                "smtp_port": smtp.port,
                "smtp_starttls": False,
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


async def submit(ob: RunningOnboarding, partner_id: uuid.UUID, **overrides: Any) -> str:
    response = await ob.http.post(
        CUSTOMERS, json=application_body(**overrides), headers=ob.headers(partner_id)
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["customer_id"]
    return customer_id


async def start(
    ob: RunningOnboarding, partner_id: uuid.UUID, customer_id: str, channel: str = "sms"
) -> dict[str, Any]:
    response = await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications",
        json={"channel": channel},
        headers=ob.headers(partner_id),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def confirm(
    ob: RunningOnboarding,
    partner_id: uuid.UUID,
    customer_id: str,
    verification_id: str,
    code: str,
) -> Any:
    return await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications/{verification_id}/confirm",
        json={"code": code},
        headers=ob.headers(partner_id),
    )


async def customer(ob: RunningOnboarding, partner_id: uuid.UUID, customer_id: str) -> Any:
    response = await ob.http.get(f"{CUSTOMERS}/{customer_id}", headers=ob.headers(partner_id))
    assert response.status_code == 200, response.text
    return response.json()


def sms_code(sms: FakeSmsGateway) -> str:
    code = sms.last_code_for(PHONE)
    assert code is not None
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def reason_codes(customer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in customer["assessment"]["reasons"]]


async def test_the_code_sent_by_sms_passes_the_sms_verification(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)

    started = await start(ob, partner_id, customer_id)

    assert started["channel"] == "sms"
    assert started["destination"] == "+49******820"
    assert started["status"] == "pending"
    assert (started["attempts"], started["attempts_remaining"], started["sends"]) == (0, 5, 1)
    assert started["expires_at"] > started["created_at"]
    assert started["resend_available_at"] > started["created_at"]
    [message] = sms.messages
    assert message["to"] == PHONE
    code = sms_code(sms)
    assert len(code) == 6

    confirmed = await confirm(ob, partner_id, customer_id, started["id"], code)

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "passed"
    assert confirmed.json()["attempts"] == 1
    assert confirmed.json()["completed_at"] is not None
    [event] = await ob.events(partner_id, COMPLETED)
    assert event["data"]["verification_id"] == started["id"]
    assert event["data"]["customer_id"] == customer_id
    assert (event["data"]["channel"], event["data"]["result"]) == ("sms", "passed")
    assert event["data"]["attempts"] == 1
    after = await customer(ob, partner_id, customer_id)
    assert after["status"] == "pending_verification"
    assert after["pending_requirements"] == ["email", "collections_policy"]


async def test_the_code_sent_by_email_passes_the_email_verification(
    ob: RunningOnboarding, partner_id: uuid.UUID, smtp: FakeSmtpServer
) -> None:
    customer_id = await submit(ob, partner_id)

    started = await start(ob, partner_id, customer_id, "email")

    assert started["destination"] == "e***@contoso.example"
    [mail] = smtp.to(EMAIL)
    assert mail.subject == "Your verification code"
    code = smtp.last_code_for(EMAIL)
    assert code is not None
    confirmed = await confirm(ob, partner_id, customer_id, started["id"], code)
    assert confirmed.json()["status"] == "passed"
    [event] = await ob.events(partner_id, COMPLETED)
    assert (event["data"]["channel"], event["data"]["result"]) == ("email", "passed")
    assert (await customer(ob, partner_id, customer_id))["pending_requirements"] == [
        "sms",
        "collections_policy",
    ]


async def test_both_channels_passed_keep_each_other_and_approve_with_the_policy_accepted(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway, smtp: FakeSmtpServer
) -> None:
    await publish_collections_policy(ob, partner_id)
    customer_id = await submit(
        ob,
        partner_id,
        collections_acceptance={
            "policy_version": "2026-11",
            "accepted_by": "Erika Mustermann",
            "ip_address": "203.0.113.10",
        },
    )
    by_sms = await start(ob, partner_id, customer_id, "sms")
    by_email = await start(ob, partner_id, customer_id, "email")

    await confirm(ob, partner_id, customer_id, by_sms["id"], sms_code(sms))
    code = smtp.last_code_for(EMAIL)
    assert code is not None
    await confirm(ob, partner_id, customer_id, by_email["id"], code)

    after = await customer(ob, partner_id, customer_id)
    assert after["status"] == "approved"
    assert after["pending_requirements"] == []
    assert len(await ob.events(partner_id, "onboarding.customer.approved")) == 1


async def test_a_wrong_code_is_counted_and_the_verification_stays_pending(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    started = await start(ob, partner_id, customer_id)

    response = await confirm(ob, partner_id, customer_id, started["id"], wrong(sms_code(sms)))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert (body["attempts"], body["attempts_remaining"]) == (1, 4)
    assert await ob.events(partner_id, COMPLETED) == []
    [listed] = (
        await ob.http.get(
            f"{CUSTOMERS}/{customer_id}/verifications", headers=ob.headers(partner_id)
        )
    ).json()
    assert listed["attempts"] == 1
    confirmed = await confirm(ob, partner_id, customer_id, started["id"], sms_code(sms))
    assert confirmed.json()["status"] == "passed"
    assert confirmed.json()["attempts"] == 2


async def test_the_attempt_that_uses_up_the_attempts_fails_and_rescores(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    before = (await customer(ob, partner_id, customer_id))["assessment"]["score"]
    started = await start(ob, partner_id, customer_id)
    bad = wrong(sms_code(sms))

    answers = [
        (await confirm(ob, partner_id, customer_id, started["id"], bad)).json() for _ in range(5)
    ]

    assert [a["status"] for a in answers] == ["pending"] * 4 + ["failed"]
    assert answers[-1]["attempts_remaining"] == 0
    [event] = await ob.events(partner_id, COMPLETED)
    assert (event["data"]["result"], event["data"]["attempts"]) == ("failed", 5)
    after = await customer(ob, partner_id, customer_id)
    assert "sms_verification_failed" in reason_codes(after)
    assert after["assessment"]["score"] == before + 25
    assert "sms" in after["pending_requirements"]
    late = await confirm(ob, partner_id, customer_id, started["id"], sms_code(sms))
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    history = (
        await ob.http.get(f"{CUSTOMERS}/{customer_id}/history", headers=ob.headers(partner_id))
    ).json()
    [completed] = [h for h in history if h["action"] == "verification_completed"]
    assert completed["details"]["result"] == "failed"


async def test_a_code_entered_after_expiry_expires_the_verification(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    async with serve(verification_code_ttl_seconds=0) as ob:
        customer_id = await submit(ob, partner_id)
        started = await start(ob, partner_id, customer_id)

        response = await confirm(ob, partner_id, customer_id, started["id"], sms_code(sms))

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "expired"
        [event] = await ob.events(partner_id, COMPLETED)
        assert (event["data"]["result"], event["data"]["attempts"]) == ("expired", 1)
        assert "sms_verification_failed" in reason_codes(
            await customer(ob, partner_id, customer_id)
        )


async def test_a_new_code_after_expiry_starts_a_new_verification(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    async with serve(verification_code_ttl_seconds=0) as ob:
        customer_id = await submit(ob, partner_id)
        first = await start(ob, partner_id, customer_id)

        second = await start(ob, partner_id, customer_id)

        assert second["id"] != first["id"]
        assert second["sends"] == 1
        listed = (
            await ob.http.get(
                f"{CUSTOMERS}/{customer_id}/verifications", headers=ob.headers(partner_id)
            )
        ).json()
        assert [(v["id"], v["status"]) for v in listed] == [
            (first["id"], "expired"),
            (second["id"], "expired"),  # a zero TTL expires the new one at once, too
        ]
        # The lapse is not a result: nothing re-scored, no event.
        assert await ob.events(partner_id, COMPLETED) == []
        closed = await confirm(ob, partner_id, customer_id, first["id"], sms_code(sms))
        assert closed.status_code == 409


async def test_a_resend_within_the_cooldown_is_429_with_retry_after(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    await start(ob, partner_id, customer_id)

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications",
        json={"channel": "sms"},
        headers=ob.headers(partner_id),
    )

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "sms" in response.json()["detail"]
    assert len(sms.messages) == 1


async def test_a_resend_replaces_the_code_and_keeps_the_attempts(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    async with serve(verification_resend_cooldown_seconds=0) as ob:
        customer_id = await submit(ob, partner_id)
        started = await start(ob, partner_id, customer_id)
        old_code = sms_code(sms)
        await confirm(ob, partner_id, customer_id, started["id"], wrong(old_code))

        resent = await start(ob, partner_id, customer_id)

        assert resent["id"] == started["id"]
        assert (resent["sends"], resent["attempts"], resent["attempts_remaining"]) == (2, 1, 4)
        assert resent["expires_at"] >= started["expires_at"]
        new_code = sms_code(sms)
        assert len(sms.messages) == 2
        if new_code != old_code:  # one chance in a million that the new code is the same
            stale = await confirm(ob, partner_id, customer_id, started["id"], old_code)
            assert stale.json()["status"] == "pending"
        confirmed = await confirm(ob, partner_id, customer_id, started["id"], new_code)
        assert confirmed.json()["status"] == "passed"


async def test_no_more_codes_are_sent_than_the_maximum(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    async with serve(verification_resend_cooldown_seconds=0, verification_max_sends=2) as ob:
        customer_id = await submit(ob, partner_id)
        await start(ob, partner_id, customer_id)
        await start(ob, partner_id, customer_id)

        response = await ob.http.post(
            f"{CUSTOMERS}/{customer_id}/verifications",
            json={"channel": "sms"},
            headers=ob.headers(partner_id),
        )

        assert response.status_code == 409
        assert "2 codes have already been sent by sms" in response.json()["detail"]
        assert len(sms.messages) == 2


async def test_the_limit_on_codes_spans_new_verifications_of_the_channel(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    # Starting over after a lapse must not buy a fresh allowance of codes (and of guesses).
    async with serve(verification_code_ttl_seconds=0, verification_max_sends=2) as ob:
        customer_id = await submit(ob, partner_id)
        await start(ob, partner_id, customer_id)
        await start(ob, partner_id, customer_id)

        response = await ob.http.post(
            f"{CUSTOMERS}/{customer_id}/verifications",
            json={"channel": "sms"},
            headers=ob.headers(partner_id),
        )

        assert response.status_code == 409
        assert len(sms.messages) == 2


async def test_a_passed_channel_cannot_be_verified_again(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    started = await start(ob, partner_id, customer_id)
    await confirm(ob, partner_id, customer_id, started["id"], sms_code(sms))

    again = await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications",
        json={"channel": "sms"},
        headers=ob.headers(partner_id),
    )

    assert again.status_code == 409
    assert "already passed" in again.json()["detail"]
    assert len(sms.messages) == 1


async def test_a_decided_application_cannot_be_verified(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    saved = await ob.http.put(
        "/v1/onboarding/risk-policy",
        json={"policy": {"weights": {"ip_country_mismatch": 80}}, "note": "test"},
        headers=ob.headers(partner_id),
    )
    assert saved.status_code == 200, saved.text
    body = application_body()
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    response = await ob.http.post(CUSTOMERS, json=body, headers=ob.headers(partner_id))
    assert response.json()["status"] == "rejected"

    refused = await ob.http.post(
        f"{CUSTOMERS}/{response.json()['customer_id']}/verifications",
        json={"channel": "sms"},
        headers=ob.headers(partner_id),
    )

    assert refused.status_code == 409
    assert "rejected" in refused.json()["detail"]
    assert sms.messages == []


async def test_a_gateway_failure_is_502_and_nothing_is_stored(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    sms.fail_next(status=503)

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications",
        json={"channel": "sms"},
        headers=ob.headers(partner_id),
    )

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    listed = await ob.http.get(
        f"{CUSTOMERS}/{customer_id}/verifications", headers=ob.headers(partner_id)
    )
    assert listed.json() == []
    # Nothing held against the customer: the next try sends at once, no cooldown.
    assert (await start(ob, partner_id, customer_id))["sends"] == 1


async def test_a_refused_email_is_502_and_nothing_is_stored(
    ob: RunningOnboarding, partner_id: uuid.UUID, smtp: FakeSmtpServer
) -> None:
    customer_id = await submit(ob, partner_id)
    smtp.refuse_next(reply="550 5.1.1 No such mailbox")

    response = await ob.http.post(
        f"{CUSTOMERS}/{customer_id}/verifications",
        json={"channel": "email"},
        headers=ob.headers(partner_id),
    )

    assert response.status_code == 502
    listed = await ob.http.get(
        f"{CUSTOMERS}/{customer_id}/verifications", headers=ob.headers(partner_id)
    )
    assert listed.json() == []


async def test_a_failed_resend_keeps_the_code_already_sent(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    async with serve(verification_resend_cooldown_seconds=0) as ob:
        customer_id = await submit(ob, partner_id)
        started = await start(ob, partner_id, customer_id)
        code = sms_code(sms)
        sms.fail_next(status=500)

        failed = await ob.http.post(
            f"{CUSTOMERS}/{customer_id}/verifications",
            json={"channel": "sms"},
            headers=ob.headers(partner_id),
        )

        assert failed.status_code == 502
        confirmed = await confirm(ob, partner_id, customer_id, started["id"], code)
        assert confirmed.json()["status"] == "passed"
        assert confirmed.json()["sends"] == 1


async def test_another_partners_customer_is_not_found(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    customer_id = await submit(ob, partner_id)
    started = await start(ob, partner_id, customer_id)
    other = ob.headers(uuid.uuid4())
    path = f"{CUSTOMERS}/{customer_id}/verifications"

    sent = await ob.http.post(path, json={"channel": "sms"}, headers=other)
    listed = await ob.http.get(path, headers=other)
    confirmed = await ob.http.post(
        f"{path}/{started['id']}/confirm", json={"code": sms_code(sms)}, headers=other
    )

    assert [sent.status_code, listed.status_code, confirmed.status_code] == [404, 404, 404]
    assert len(sms.messages) == 1
    still = await ob.http.get(path, headers=ob.headers(partner_id))
    assert still.json()[0]["status"] == "pending"


async def test_a_verification_of_another_customer_is_not_found(
    ob: RunningOnboarding, partner_id: uuid.UUID, sms: FakeSmsGateway
) -> None:
    first = await submit(ob, partner_id)
    second = await submit(ob, partner_id)
    started = await start(ob, partner_id, first)

    response = await confirm(ob, partner_id, second, started["id"], sms_code(sms))

    assert response.status_code == 404


async def test_scopes_are_enforced(ob: RunningOnboarding, partner_id: uuid.UUID) -> None:
    customer_id = await submit(ob, partner_id)
    path = f"{CUSTOMERS}/{customer_id}/verifications"
    reader = ob.headers(partner_id, scopes=["onboarding:read"])
    writer = ob.headers(partner_id, scopes=["onboarding:write"])

    sent = await ob.http.post(path, json={"channel": "sms"}, headers=reader)
    confirmed = await ob.http.post(
        f"{path}/{uuid.uuid4()}/confirm", json={"code": "123456"}, headers=reader
    )
    listed = await ob.http.get(path, headers=writer)

    assert [sent.status_code, confirmed.status_code, listed.status_code] == [403, 403, 403]
    assert sent.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"channel": "fax"}),
        ("", {"channel": "sms", "to": "+15550100"}),
        ("", {}),
        ("/{vid}/confirm", {"code": "12ab56"}),
        ("/{vid}/confirm", {"code": "123"}),
        ("/{vid}/confirm", {"code": "12345678901"}),
        ("/{vid}/confirm", {}),
    ],
)
async def test_bad_input_is_a_422_problem(
    ob: RunningOnboarding, partner_id: uuid.UUID, path: str, body: dict[str, Any]
) -> None:
    customer_id = await submit(ob, partner_id)
    started = await start(ob, partner_id, customer_id)
    url = f"{CUSTOMERS}/{customer_id}/verifications" + path.format(vid=started["id"])

    response = await ob.http.post(url, json=body, headers=ob.headers(partner_id))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    listed = await ob.http.get(
        f"{CUSTOMERS}/{customer_id}/verifications", headers=ob.headers(partner_id)
    )
    assert listed.json()[0]["attempts"] == 0


async def test_codes_never_appear_in_answers_or_logs(
    serve: Serve, partner_id: uuid.UUID, sms: FakeSmsGateway, smtp: FakeSmtpServer
) -> None:
    # Ten digits, so no timestamp or id in the answers can hold one of them by chance.
    with captured_logs() as logs:
        async with serve(verification_resend_cooldown_seconds=0, verification_code_length=10) as ob:
            customer_id = await submit(ob, partner_id)
            headers = ob.headers(partner_id)
            path = f"{CUSTOMERS}/{customer_id}"
            answers = [
                await ob.http.post(
                    f"{path}/verifications", json={"channel": "sms"}, headers=headers
                ),
                await ob.http.post(
                    f"{path}/verifications", json={"channel": "sms"}, headers=headers
                ),
                await ob.http.post(
                    f"{path}/verifications", json={"channel": "email"}, headers=headers
                ),
            ]
            sms_id = answers[0].json()["id"]
            codes = [found[0] for found in map(TEN_DIGITS.search, sms.texts_to(PHONE)) if found]
            email_code = smtp.last_code_for(EMAIL)
            assert email_code is not None
            codes.append(email_code)
            answers.append(await confirm(ob, partner_id, customer_id, sms_id, wrong(codes[-2])))
            answers.append(await confirm(ob, partner_id, customer_id, sms_id, codes[-2]))
            answers.append(await ob.http.get(f"{path}/verifications", headers=headers))
            answers.append(await ob.http.get(f"{path}/history", headers=headers))
            answers.append(await ob.http.get(path, headers=headers))
            events = await ob.events(partner_id)

    seen = " ".join(
        [a.text for a in answers] + [str(e) for e in events] + [str(entry) for entry in logs]
    )
    assert len(codes) == 3
    for code in codes:
        assert code not in seen
    assert "code_hash" not in seen
