"""Cases over HTTP: open, timeline, fraud window, the one-time credit request, close."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from partnerguard.common.events.types.enforcement import CaseKind
from partnerguard.enforcement.cases.service import open_case_from_event
from partnerguard.enforcement.models import Customer, Subscription
from tests.support.enforcement import RunningEnforcement

CASES = "/v1/enforcement/cases"


def today() -> date:
    return datetime.now(UTC).date()


async def add_customer(
    enforcement: RunningEnforcement,
    partner_id: uuid.UUID,
    *,
    tenant: uuid.UUID | None = None,
    commerce: tuple[str, ...] = ("new_commerce",),
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A registry customer with subscriptions of the given commerce: (customer, tenant, subs)."""
    customer_id, tenant_id = uuid.uuid4(), tenant or uuid.uuid4()
    subscriptions = [uuid.uuid4() for _ in commerce]
    async with enforcement.db.tenant_session(partner_id) as session:
        session.add(
            Customer(partner_id=partner_id, customer_id=customer_id, vendor_tenant_id=tenant_id)
        )
        for sub, kind in zip(subscriptions, commerce, strict=True):
            session.add(
                Subscription(
                    partner_id=partner_id,
                    subscription_id=sub,
                    customer_id=customer_id,
                    commerce=kind,
                    status="active",
                    desired_status="active",
                )
            )
    return customer_id, tenant_id, subscriptions


async def open_case(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, customer_id: uuid.UUID, **body: Any
) -> dict[str, Any]:
    payload = {"kind": "account_compromise", "customer_id": str(customer_id), **body}
    response = await enforcement.http.post(
        CASES, json=payload, headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def file_credit(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, case_id: str, subs: list[uuid.UUID]
) -> Any:
    return await enforcement.http.post(
        f"{CASES}/{case_id}/credit-request",
        json={"subscription_ids": [str(s) for s in subs], "vendor_reference": "MS-123"},
        headers=enforcement.headers(partner_id),
    )


async def audit_actions(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> list[str]:
    response = await enforcement.http.get(
        "/v1/enforcement/audit", headers=enforcement.headers(partner_id), params={"limit": 200}
    )
    return [e["action"] for e in reversed(response.json()["items"])]


# --- opening ----------------------------------------------------------------------------------


async def test_opening_a_compromise_case_shows_its_deadline_and_emits_opened(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, tenant_id, _ = await add_customer(enforcement, partner_id)
    first_usage = today() - timedelta(days=10)

    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage.isoformat(),
        summary="impossible travel then GPU VMs",
    )  # fmt: skip

    assert case["status"] == "open"
    assert case["vendor_tenant_id"] == str(tenant_id)
    assert case["verified"] is True
    credit = case["credit"]
    assert credit["deadline"] == (first_usage + timedelta(days=60)).isoformat()
    assert credit["days_left"] == 50
    assert credit["eligible"] is True
    assert credit["ineligible_reasons"] == []
    assert credit["requested"] is False
    assert [e["kind"] for e in case["timeline"]] == ["opened", "verification"]
    (opened,) = await enforcement.events(partner_id, "enforcement.case.opened")
    assert opened["data"]["case_id"] == case["id"]
    assert opened["data"]["credit_request_deadline"] == credit["deadline"]
    assert opened["data"]["vendor_tenant_id"] == str(tenant_id)
    assert await audit_actions(enforcement, partner_id) == ["case.opened"]


async def test_a_repeated_source_event_returns_the_case_it_opened(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, tenant_id, _ = await add_customer(enforcement, partner_id)
    event_id = uuid.uuid4()
    ids = []
    for _ in range(2):
        async with enforcement.db.tenant_session(partner_id) as session:
            case = await open_case_from_event(
                session,
                partner_id,
                kind=CaseKind.ACCOUNT_COMPROMISE,
                customer_id=customer_id,
                vendor_tenant_id=None,
                source_event_id=event_id,
                summary="vendor notice",
                first_fraudulent_usage_on=None,
                now=datetime.now(UTC),
            )
            ids.append(case.id)
    assert ids[0] == ids[1]
    assert case.vendor_tenant_id == tenant_id
    assert len(await enforcement.events(partner_id, "enforcement.case.opened")) == 1
    listed = await enforcement.http.get(CASES, headers=enforcement.headers(partner_id))
    assert [c["id"] for c in listed.json()["items"]] == [str(ids[0])]


async def test_a_case_without_fraud_window_has_no_deadline_and_says_why(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id)
    assert case["credit"]["deadline"] is None
    assert case["credit"]["eligible"] is False
    assert case["credit"]["ineligible_reasons"] == ["first_fraudulent_usage_unknown"]
    (opened,) = await enforcement.events(partner_id, "enforcement.case.opened")
    assert opened["data"]["credit_request_deadline"] is None


async def test_bad_case_input_is_problem_json_and_opens_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    future = (today() + timedelta(days=1)).isoformat()
    for body in [
        {"kind": "burglary", "customer_id": str(customer_id)},
        {"kind": "fraud", "customer_id": "nope"},
        {"kind": "fraud", "customer_id": str(customer_id), "first_fraudulent_usage_on": "2024-13-01"},
        {"kind": "fraud", "customer_id": str(customer_id), "first_fraudulent_usage_on": future},
        {"kind": "fraud", "customer_id": str(customer_id), "surprise": 1},
    ]:  # fmt: skip
        response = await enforcement.http.post(
            CASES, json=body, headers=enforcement.headers(partner_id)
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    listed = await enforcement.http.get(CASES, headers=enforcement.headers(partner_id))
    assert listed.json()["items"] == []
    assert await enforcement.events(partner_id) == []


async def test_another_partners_case_and_customer_are_not_found(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id)
    other = uuid.uuid4()
    headers = enforcement.headers(other)
    assert (await enforcement.http.get(f"{CASES}/{case['id']}", headers=headers)).status_code == 404
    listed = await enforcement.http.get(CASES, headers=headers)
    assert listed.json()["items"] == []
    for path, body in [
        (f"{CASES}/{case['id']}/entries", {"kind": "note", "note": "x"}),
        (f"{CASES}/{case['id']}/close", {"outcome": "resolved_without_credit"}),
        (f"{CASES}/{case['id']}/fraud-window", {"first_fraudulent_usage_on": "2024-05-01"}),
        (f"{CASES}/{case['id']}/credit-request", {"subscription_ids": [str(subs[0])]}),
        (CASES, {"kind": "fraud", "customer_id": str(customer_id)}),
    ]:
        response = await enforcement.http.post(path, json=body, headers=headers)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_missing_scopes_are_forbidden(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    read_only = enforcement.headers(partner_id, scopes=["enforcement:read"])
    response = await enforcement.http.post(
        CASES, json={"kind": "fraud", "customer_id": str(customer_id)}, headers=read_only
    )
    assert response.status_code == 403
    write_only = enforcement.headers(partner_id, scopes=["enforcement:write"])
    assert (await enforcement.http.get(CASES, headers=write_only)).status_code == 403


async def test_cases_list_by_status_kind_and_customer_in_pages(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_a, _, _ = await add_customer(enforcement, partner_id)
    customer_b, _, _ = await add_customer(enforcement, partner_id)
    first = await open_case(enforcement, partner_id, customer_a)
    await open_case(enforcement, partner_id, customer_a, kind="fraud")
    await open_case(enforcement, partner_id, customer_b)
    await enforcement.http.post(
        f"{CASES}/{first['id']}/close", json={"outcome": "resolved_without_credit"},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    headers = enforcement.headers(partner_id)

    async def ids(**params: str) -> list[str]:
        response = await enforcement.http.get(CASES, params=params, headers=headers)
        return [c["kind"] + ":" + c["status"] for c in response.json()["items"]]

    assert await ids(customer_id=str(customer_a)) == ["account_compromise:closed", "fraud:open"]
    assert await ids(status="open", kind="account_compromise") == ["account_compromise:open"]
    page = await enforcement.http.get(CASES, params={"limit": 2}, headers=headers)
    assert len(page.json()["items"]) == 2
    rest = await enforcement.http.get(
        CASES, params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=headers
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


# --- timeline, fraud window, close --------------------------------------------------------------


async def test_evidence_and_notes_join_the_timeline_in_order(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id, kind="fraud")
    headers = enforcement.headers(partner_id)
    for body in [
        {"kind": "evidence", "note": "sign-in log", "data": {"url": "https://x/1", "count": 3}},
        {"kind": "note", "note": "called the customer"},
    ]:
        response = await enforcement.http.post(
            f"{CASES}/{case['id']}/entries", json=body, headers=headers
        )
        assert response.status_code == 201
    timeline = response.json()["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "evidence", "note"]
    assert timeline[1]["detail"] == {"note": "sign-in log", "url": "https://x/1", "count": 3}
    assert await audit_actions(enforcement, partner_id) == [
        "case.opened", "case.evidence_added", "case.note_added",
    ]  # fmt: skip


async def test_verification_entry_makes_an_unverified_compromise_eligible(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(
        enforcement, partner_id, customer_id, verified=False,
        first_fraudulent_usage_on=(today() - timedelta(days=3)).isoformat(),
    )  # fmt: skip
    assert case["verified"] is False
    assert case["credit"]["ineligible_reasons"] == ["compromise_not_verified"]
    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/entries", json={"kind": "verification", "note": "confirmed by SOC"},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert response.json()["verified"] is True
    assert response.json()["credit"]["eligible"] is True


async def test_setting_the_fraud_window_recomputes_deadline_and_eligibility(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id)
    headers = enforcement.headers(partner_id)
    first_usage = today() - timedelta(days=20)
    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/fraud-window",
        json={"first_fraudulent_usage_on": first_usage.isoformat()}, headers=headers,
    )  # fmt: skip
    assert response.status_code == 200
    credit = response.json()["credit"]
    assert credit["deadline"] == (first_usage + timedelta(days=60)).isoformat()
    assert credit["days_left"] == 40
    assert credit["eligible"] is True

    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/fraud-window",
        json={"first_fraudulent_usage_on": "2023-03-31"}, headers=headers,
    )  # fmt: skip
    credit = response.json()["credit"]
    assert credit["deadline"] is None
    assert credit["ineligible_reasons"] == ["activity_before_2023_04_01"]
    assert response.json()["timeline"][-1]["detail"]["previous"] == first_usage.isoformat()

    future = await enforcement.http.post(
        f"{CASES}/{case['id']}/fraud-window",
        json={"first_fraudulent_usage_on": (today() + timedelta(days=2)).isoformat()},
        headers=headers,
    )
    assert future.status_code == 422
    assert future.headers["content-type"] == "application/problem+json"


async def test_closing_a_case_emits_closed_and_a_closed_case_refuses_changes(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id, kind="fraud")
    headers = enforcement.headers(partner_id)
    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/close",
        json={"outcome": "resolved_without_credit", "note": "false positive"}, headers=headers,
    )  # fmt: skip
    assert response.status_code == 200
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["outcome"] == "resolved_without_credit"
    assert closed["closed_at"] is not None
    assert closed["timeline"][-1]["kind"] == "closed"
    (event,) = await enforcement.events(partner_id, "enforcement.case.closed")
    assert event["data"]["outcome"] == "resolved_without_credit"
    assert event["data"]["note"] == "false positive"

    for path, body in [
        ("close", {"outcome": "not_eligible"}),
        ("entries", {"kind": "note", "note": "late"}),
        ("fraud-window", {"first_fraudulent_usage_on": "2024-05-01"}),
    ]:
        again = await enforcement.http.post(
            f"{CASES}/{case['id']}/{path}", json=body, headers=headers
        )
        assert again.status_code == 409, path
    assert len(await enforcement.events(partner_id, "enforcement.case.closed")) == 1


async def test_a_credit_outcome_needs_a_filed_request(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    case = await open_case(enforcement, partner_id, customer_id)
    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/close", json={"outcome": "credit_granted"},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert response.status_code == 422
    assert await enforcement.events(partner_id, "enforcement.case.closed") == []
