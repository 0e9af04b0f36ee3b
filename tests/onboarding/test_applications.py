"""Customer applications through the onboarding API: submission, scoring, states and events."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.onboarding import (
    RunningOnboarding,
    application_body,
    publish_collections_policy,
)

CUSTOMERS = "/v1/onboarding/customers"


async def save_policy(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, **policy: Any
) -> dict[str, Any]:
    response = await onboarding.http.put(
        "/v1/onboarding/risk-policy",
        json={"policy": policy, "note": "test"},
        headers=onboarding.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def acceptance(version: str = "2026-11") -> dict[str, Any]:
    return {
        "policy_version": version,
        "accepted_by": "Erika Mustermann",
        "ip_address": "203.0.113.10",
    }


async def submit(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    response = await onboarding.http.post(
        CUSTOMERS, json=body, headers=onboarding.headers(partner_id, **headers)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def no_verifications(onboarding: RunningOnboarding, partner_id: uuid.UUID) -> None:
    """A partner that approves on score alone once the collections policy is accepted."""
    await publish_collections_policy(onboarding, partner_id)
    await save_policy(onboarding, partner_id, required_verifications=[])


async def test_clean_application_waits_for_verifications_and_the_collections_policy(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    customer = await submit(onboarding, partner_id, application_body())

    assert customer["status"] == "pending_verification"
    assert customer["assessment"]["outcome"] == "approve"
    assert customer["assessment"]["policy_version"] == 0
    assert customer["pending_requirements"] == ["email", "sms", "collections_policy"]
    events = await onboarding.events(partner_id)
    assert [e["type"] for e in events] == ["onboarding.customer.submitted"]
    assert events[0]["data"]["customer_id"] == customer["customer_id"]
    assert events[0]["customerid"] == customer["customer_id"]


async def test_clean_application_is_approved_at_once_when_nothing_else_is_required(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    customer = await submit(
        onboarding, partner_id, application_body(collections_acceptance=acceptance())
    )

    assert customer["status"] == "approved"
    assert customer["assessment"]["risk_tier"] == "low"
    assert customer["decided_by"] == "system"
    assert customer["collections_policy_version"] == "2026-11"
    types = [e["type"] for e in await onboarding.events(partner_id)]
    assert types == [
        "onboarding.customer.submitted",
        "onboarding.collections_policy.accepted",
        "onboarding.customer.approved",
    ]
    (approved,) = await onboarding.events(partner_id, "onboarding.customer.approved")
    assert approved["data"]["risk_tier"] == "low"
    assert approved["data"]["prepayment_required"] is False
    assert approved["data"]["decided_by"] == "automatic"
    assert approved["data"]["country"] == "DE"


async def test_a_submission_reads_back_as_answered_with_its_trail_and_evidence(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    """A submission and its first decision are written in one statement: what the answer
    says is what was stored, with the audit trail in order and the acceptance's evidence."""
    answered = await submit(
        onboarding, partner_id, application_body(collections_acceptance=acceptance())
    )
    path = f"{CUSTOMERS}/{answered['customer_id']}"
    headers = onboarding.headers(partner_id)

    assert (await onboarding.http.get(path, headers=headers)).json() == answered
    history = (await onboarding.http.get(f"{path}/history", headers=headers)).json()
    assert [(h["action"], h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("submitted", None, "submitted", "client-1"),
        ("collections_policy_accepted", "submitted", "submitted", "client-1"),
        ("status_changed", "submitted", "approved", "system"),
    ]
    async with onboarding.db.sweep_session() as session:
        evidence = (
            await session.execute(
                text(
                    "SELECT policy_version, accepted_by, host(ip_address), recorded_by "
                    "FROM collections_acceptances WHERE partner_id = :p"
                ),
                {"p": partner_id},
            )
        ).all()
    assert [tuple(row) for row in evidence] == [
        ("2026-11", "Erika Mustermann", "203.0.113.10", "client-1")
    ]


async def test_accepting_the_collections_policy_later_approves_a_waiting_application(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    customer = await submit(onboarding, partner_id, application_body())
    assert customer["status"] == "pending_verification"
    assert customer["pending_requirements"] == ["collections_policy"]

    response = await onboarding.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/collections-acceptance",
        json=acceptance(),
        headers=onboarding.headers(partner_id),
    )

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "approved"


async def test_an_unpublished_collections_policy_version_is_refused_and_nothing_is_stored(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    response = await onboarding.http.post(
        CUSTOMERS,
        json=application_body(collections_acceptance=acceptance("1999-01")),
        headers=onboarding.headers(partner_id),
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "1999-01" in response.json()["detail"]
    listed = await onboarding.http.get(CUSTOMERS, headers=onboarding.headers(partner_id))
    assert listed.json()["items"] == []
    assert await onboarding.events(partner_id) == []


async def test_a_blocklisted_email_domain_is_a_hard_reject(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    entry = await onboarding.http.post(
        "/v1/onboarding/lists/entries",
        json={
            "list": "block",
            "kind": "domain",
            "value": "contoso.example",
            "reason": "fraud ring",
        },
        headers=onboarding.headers(partner_id),
    )
    assert entry.status_code == 201, entry.text

    customer = await submit(onboarding, partner_id, application_body())

    assert customer["status"] == "rejected"
    assert customer["assessment"]["hard_reject"] is True
    codes = [r["code"] for r in customer["assessment"]["reasons"]]
    assert "blocklisted" in codes
    (rejected,) = await onboarding.events(partner_id, "onboarding.customer.rejected")
    assert rejected["data"]["decided_by"] == "automatic"
    assert any(r["code"] == "blocklisted" for r in rejected["data"]["reasons"])


async def test_a_burst_of_fifty_applications_from_one_device_is_never_approved_past_the_limit(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    device = "device-burst"
    statuses = []
    for n in range(50):
        body = application_body(collections_acceptance=acceptance())
        body["signup"] = {**body["signup"], "device_id": device, "ip": f"198.51.100.{n + 1}"}
        body["company"] = {**body["company"], "name": f"Burst {n} Ltd"}
        statuses.append((await submit(onboarding, partner_id, body))["status"])

    # The default policy allows 3 other applications per device and hour.
    assert statuses[0] == "approved"
    assert all(status in ("in_review", "rejected") for status in statuses[4:]), statuses
    queue = await onboarding.http.get(
        "/v1/onboarding/reviews", params={"limit": 100}, headers=onboarding.headers(partner_id)
    )
    assert len(queue.json()["items"]) == statuses.count("in_review")


async def test_a_borderline_application_is_reviewed_and_a_reviewer_approves_it(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    await save_policy(
        onboarding, partner_id, required_verifications=[], weights={"ip_country_mismatch": 35}
    )
    body = application_body(collections_acceptance=acceptance())
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    customer = await submit(onboarding, partner_id, body)
    assert customer["status"] == "in_review"
    (queued,) = await onboarding.events(partner_id, "onboarding.customer.review_required")
    assert queued["data"]["risk_score"] == 35
    assert [r["code"] for r in queued["data"]["reasons"]] == ["ip_country_mismatch"]
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    headers = onboarding.headers(partner_id)

    unclaimed = await onboarding.http.post(
        f"{path}/decision",
        json={"reviewer": "alice", "decision": "approve", "note": "known reseller"},
        headers=headers,
    )
    assert unclaimed.status_code == 409
    claimed = await onboarding.http.post(
        f"{path}/claim", json={"reviewer": "alice"}, headers=headers
    )
    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"] == "alice"
    taken = await onboarding.http.post(f"{path}/claim", json={"reviewer": "bob"}, headers=headers)
    assert taken.status_code == 409
    decided = await onboarding.http.post(
        f"{path}/decision",
        json={"reviewer": "alice", "decision": "approve", "note": "called the CFO"},
        headers=headers,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    assert decided.json()["decided_by"] == "alice"
    assert decided.json()["decision_note"] == "called the CFO"
    (approved,) = await onboarding.events(partner_id, "onboarding.customer.approved")
    assert approved["data"]["decided_by"] == "reviewer"
    history = (await onboarding.http.get(f"{path}/history", headers=headers)).json()
    assert [(h["action"], h["to_status"], h["actor"]) for h in history] == [
        ("submitted", "submitted", "client-1"),
        ("collections_policy_accepted", "submitted", "client-1"),
        ("status_changed", "in_review", "system"),
        ("claimed", "in_review", "alice"),
        ("status_changed", "approved", "alice"),
    ]
    assert history[-1]["reason"] == "called the CFO"


async def test_a_reviewer_rejects_with_the_note_as_the_reason(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    await save_policy(
        onboarding, partner_id, required_verifications=[], weights={"ip_country_mismatch": 35}
    )
    body = application_body()
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    customer = await submit(onboarding, partner_id, body)
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    headers = onboarding.headers(partner_id)
    await onboarding.http.post(f"{path}/claim", json={"reviewer": "alice"}, headers=headers)

    decided = await onboarding.http.post(
        f"{path}/decision",
        json={"reviewer": "alice", "decision": "reject", "note": "shell company"},
        headers=headers,
    )

    assert decided.json()["status"] == "rejected"
    (rejected,) = await onboarding.events(partner_id, "onboarding.customer.rejected")
    assert rejected["data"]["reasons"] == [{"code": "reviewer_decision", "detail": "shell company"}]
    again = await onboarding.http.post(
        f"{path}/decision",
        json={"reviewer": "bob", "decision": "approve", "note": "second thoughts"},
        headers=headers,
    )
    assert again.status_code == 409


async def test_approval_needs_the_collections_policy_accepted(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    await save_policy(
        onboarding, partner_id, required_verifications=[], weights={"ip_country_mismatch": 35}
    )
    body = application_body()
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    customer = await submit(onboarding, partner_id, body)
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    headers = onboarding.headers(partner_id)
    await onboarding.http.post(f"{path}/claim", json={"reviewer": "alice"}, headers=headers)

    decided = await onboarding.http.post(
        f"{path}/decision",
        json={"reviewer": "alice", "decision": "approve", "note": "fine"},
        headers=headers,
    )

    assert decided.status_code == 422
    assert "collections policy" in decided.json()["detail"]
    after = (await onboarding.http.get(path, headers=headers)).json()
    assert after["status"] == "in_review"
    assert await onboarding.events(partner_id, "onboarding.customer.approved") == []


async def test_overriding_a_hard_reject_takes_two_different_reviewers(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    await onboarding.http.post(
        "/v1/onboarding/lists/entries",
        json={"list": "block", "kind": "phone", "value": "+4930901820", "reason": "chargebacks"},
        headers=onboarding.headers(partner_id),
    )
    customer = await submit(
        onboarding, partner_id, application_body(collections_acceptance=acceptance())
    )
    assert customer["status"] == "rejected"
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    headers = onboarding.headers(partner_id)
    decide = {"decision": "approve", "note": "number was reassigned"}

    first = await onboarding.http.post(
        f"{path}/decision", json={"reviewer": "alice", **decide}, headers=headers
    )
    assert first.status_code == 200
    assert first.json()["status"] == "rejected"
    assert first.json()["override_requested_by"] == "alice"
    queue = await onboarding.http.get("/v1/onboarding/reviews", headers=headers)
    assert [c["customer_id"] for c in queue.json()["items"]] == [customer["customer_id"]]
    same = await onboarding.http.post(
        f"{path}/decision", json={"reviewer": "alice", **decide}, headers=headers
    )
    assert same.status_code == 409
    second = await onboarding.http.post(
        f"{path}/decision", json={"reviewer": "bob", **decide}, headers=headers
    )

    assert second.status_code == 200
    assert second.json()["status"] == "approved"
    assert second.json()["override_requested_by"] is None
    actions = [
        h["action"] for h in (await onboarding.http.get(f"{path}/history", headers=headers)).json()
    ]
    assert "override_requested" in actions
    assert actions[-1] == "status_changed"


async def test_a_soft_automatic_reject_is_overturned_by_one_reviewer(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    await save_policy(
        onboarding, partner_id, required_verifications=[], weights={"ip_country_mismatch": 80}
    )
    body = application_body(collections_acceptance=acceptance())
    body["signup"] = {**body["signup"], "ip_country": "FR"}
    customer = await submit(onboarding, partner_id, body)
    assert customer["status"] == "rejected"
    assert customer["assessment"]["hard_reject"] is False

    decided = await onboarding.http.post(
        f"{CUSTOMERS}/{customer['customer_id']}/decision",
        json={"reviewer": "alice", "decision": "approve", "note": "travelling founder"},
        headers=onboarding.headers(partner_id),
    )

    assert decided.json()["status"] == "approved"


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("no contact", {k: v for k, v in application_body().items() if k != "contact"}),
    (
        "bad email",
        application_body(contact={"name": "E", "email": "not-an-email", "phone": "+4930901820"}),
    ),
    (
        "phone not E.164",
        application_body(
            contact={"name": "E", "email": "e@contoso.example", "phone": "030 901820"}
        ),
    ),
    (
        "lower-case country",
        application_body(company={**application_body()["company"], "country": "de"}),
    ),
    (
        "card bin for a bank transfer",
        application_body(payment_instrument={"type": "bank_transfer", "card_bin": "457173"}),
    ),
    ("card without a bin", application_body(payment_instrument={"type": "credit_card"})),
    (
        "full card number",
        application_body(
            payment_instrument={"type": "credit_card", "card_bin": "4571736012345678"}
        ),
    ),
    ("bad ip", application_body(signup={"ip": "300.1.1.1"})),
    ("negative form time", application_body(signup={"ip": "203.0.113.1", "form_fill_seconds": -1})),
    ("unknown field", application_body(loyalty_points=3)),
    ("bad tenant id", application_body(vendor_tenant_id="not-a-guid")),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[case for case, _ in BAD_BODIES])
async def test_bad_input_is_a_problem_and_nothing_is_stored(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, case: str, body: dict[str, Any]
) -> None:
    response = await onboarding.http.post(
        CUSTOMERS, json=body, headers=onboarding.headers(partner_id)
    )

    assert response.status_code == 422, case
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"], case
    listed = await onboarding.http.get(CUSTOMERS, headers=onboarding.headers(partner_id))
    assert listed.json()["items"] == []
    assert await onboarding.events(partner_id) == []


async def test_a_retried_submission_with_the_same_key_is_one_customer(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    body = application_body()
    first = await onboarding.http.post(
        CUSTOMERS, json=body, headers=onboarding.headers(partner_id, **{"Idempotency-Key": "k1"})
    )
    again = await onboarding.http.post(
        CUSTOMERS, json=body, headers=onboarding.headers(partner_id, **{"Idempotency-Key": "k1"})
    )
    other = await onboarding.http.post(
        CUSTOMERS,
        json=application_body(),
        headers=onboarding.headers(partner_id, **{"Idempotency-Key": "k1"}),
    )

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["customer_id"] == first.json()["customer_id"]
    assert other.status_code == 422
    listed = await onboarding.http.get(CUSTOMERS, headers=onboarding.headers(partner_id))
    assert len(listed.json()["items"]) == 1


async def test_another_partners_customer_is_not_found_and_not_listed(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    customer = await submit(onboarding, partner_id, application_body())
    other = onboarding.headers(uuid.uuid4())
    path = f"{CUSTOMERS}/{customer['customer_id']}"

    assert (await onboarding.http.get(path, headers=other)).status_code == 404
    assert (await onboarding.http.get(f"{path}/history", headers=other)).status_code == 404
    claim = await onboarding.http.post(f"{path}/claim", json={"reviewer": "x"}, headers=other)
    assert claim.status_code == 404
    assert (await onboarding.http.get(CUSTOMERS, headers=other)).json()["items"] == []


async def test_scopes_are_checked(onboarding: RunningOnboarding, partner_id: uuid.UUID) -> None:
    read_only = onboarding.headers(partner_id, scopes=["onboarding:read"])
    billing = onboarding.headers(partner_id, scopes=["billing:read", "billing:write"])

    post = await onboarding.http.post(CUSTOMERS, json=application_body(), headers=read_only)
    assert post.status_code == 403
    assert (await onboarding.http.get(CUSTOMERS, headers=billing)).status_code == 403
    assert (await onboarding.http.get(CUSTOMERS)).status_code == 401


async def test_customers_are_filtered_and_paged(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    headers = onboarding.headers(partner_id)
    ids = []
    for n in range(5):
        body = application_body()
        body["company"] = {**body["company"], "country": "AT" if n % 2 else "DE"}
        ids.append((await submit(onboarding, partner_id, body))["customer_id"])

    page1 = (await onboarding.http.get(CUSTOMERS, params={"limit": 2}, headers=headers)).json()
    page2 = (
        await onboarding.http.get(
            CUSTOMERS, params={"limit": 2, "cursor": page1["next_cursor"]}, headers=headers
        )
    ).json()
    page3 = (
        await onboarding.http.get(
            CUSTOMERS, params={"limit": 2, "cursor": page2["next_cursor"]}, headers=headers
        )
    ).json()
    austrian = (
        await onboarding.http.get(CUSTOMERS, params={"country": "AT"}, headers=headers)
    ).json()

    paged = [c["customer_id"] for page in (page1, page2, page3) for c in page["items"]]
    assert paged == ids
    assert page3["next_cursor"] is None
    assert [c["customer_id"] for c in austrian["items"]] == [ids[1], ids[3]]
    bad = await onboarding.http.get(CUSTOMERS, params={"status": "sleeping"}, headers=headers)
    assert bad.status_code == 422


async def test_the_risk_policy_starts_as_the_default_and_saves_versions(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    headers = onboarding.headers(partner_id)
    default = (await onboarding.http.get("/v1/onboarding/risk-policy", headers=headers)).json()
    assert default["version"] == 0

    saved = await save_policy(onboarding, partner_id, review_threshold=25, reject_threshold=60)
    current = (await onboarding.http.get("/v1/onboarding/risk-policy", headers=headers)).json()
    versions = (
        await onboarding.http.get("/v1/onboarding/risk-policy/versions", headers=headers)
    ).json()

    assert saved["version"] == current["version"] == 1
    assert current["policy"]["review_threshold"] == 25
    assert current["created_by"] == "client-1"
    assert [v["version"] for v in versions] == [1]


async def test_an_invalid_risk_policy_is_refused_and_nothing_is_saved(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    headers = onboarding.headers(partner_id)
    response = await onboarding.http.put(
        "/v1/onboarding/risk-policy",
        json={"policy": {"review_threshold": 80, "reject_threshold": 60}},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    current = (await onboarding.http.get("/v1/onboarding/risk-policy", headers=headers)).json()
    assert current["version"] == 0


async def test_a_proposed_policy_is_replayed_over_past_applications_without_saving_it(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, no_verifications: None
) -> None:
    headers = onboarding.headers(partner_id)
    french = application_body(collections_acceptance=acceptance())
    french["signup"] = {**french["signup"], "ip_country": "FR"}
    mismatched = await submit(onboarding, partner_id, french)
    await submit(onboarding, partner_id, application_body(collections_acceptance=acceptance()))
    current = (await onboarding.http.get("/v1/onboarding/risk-policy", headers=headers)).json()
    proposed = {**current["policy"], "weights": {"ip_country_mismatch": 75}}

    response = await onboarding.http.post(
        "/v1/onboarding/risk-policy/replay", json={"policy": proposed}, headers=headers
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["total"] == 2
    assert report["changed"] == 1
    (change,) = report["changes"]
    assert change["application_id"] == mismatched["application_id"]
    assert (change["from_outcome"], change["to_outcome"]) == ("approve", "reject")
    after = (await onboarding.http.get("/v1/onboarding/risk-policy", headers=headers)).json()
    assert after["version"] == current["version"]
