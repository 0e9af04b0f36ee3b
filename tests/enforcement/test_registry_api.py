"""The registry over HTTP: customers with their controls, subscriptions, isolation and scopes."""

from __future__ import annotations

import uuid
from typing import Any

from partnerguard.enforcement.models import AuditEntry
from tests.support.enforcement import RunningEnforcement, audit_log

CUSTOMERS = "/v1/enforcement/customers"
SUBSCRIPTIONS = "/v1/enforcement/subscriptions"


async def post_customer(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, expect: int = 201, **body: Any
) -> dict[str, Any]:
    body.setdefault("customer_id", str(uuid.uuid4()))
    response = await enforcement.http.post(
        CUSTOMERS, json=body, headers=enforcement.headers(partner_id)
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def register(
    enforcement: RunningEnforcement,
    partner_id: uuid.UUID,
    customer_id: str,
    expect: int = 201,
    **body: Any,
) -> dict[str, Any]:
    body.setdefault("subscription_id", str(uuid.uuid4()))
    body.setdefault("commerce", "new_commerce")
    response = await enforcement.http.post(
        f"{CUSTOMERS}/{customer_id}/subscriptions",
        json=body,
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def audit(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> list[AuditEntry]:
    return await audit_log(enforcement.db, partner_id)


async def test_posting_a_customer_creates_then_updates_it_with_its_controls(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    tenant = str(uuid.uuid4())
    created = await post_customer(
        enforcement,
        partner_id,
        vendor_tenant_id=tenant,
        risk_tier="medium",
        approved_at="2026-03-01T10:00:00Z",
        mfa_attested=True,
    )
    assert (created["vendor_tenant_id"], created["risk_tier"], created["mfa_attested"]) == (
        tenant,
        "medium",
        True,
    )
    assert (created["budget_set"], created["prepayment_cleared"]) == (False, False)

    updated = await post_customer(
        enforcement,
        partner_id,
        expect=200,
        customer_id=created["customer_id"],
        budget_set=True,
        approved_at="2026-02-01T10:00:00Z",
        risk_tier="high",
    )

    # An older approval changes nothing of the approval; controls are set regardless.
    assert (updated["risk_tier"], updated["approved_at"]) == ("medium", "2026-03-01T10:00:00Z")
    assert (updated["mfa_attested"], updated["budget_set"]) == (True, True)
    entries = await audit(enforcement, partner_id)
    assert [(e.action, e.subject_id, e.actor) for e in entries] == [
        ("customer.recorded", created["customer_id"], "client:client-1"),
        ("customer.recorded", created["customer_id"], "client:client-1"),
    ]
    assert entries[1].evidence["budget_set"] is True


async def test_customer_detail_shows_subscriptions_and_active_holds(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer = await post_customer(enforcement, partner_id)
    customer_id = customer["customer_id"]
    one = await register(enforcement, partner_id, customer_id, offer="Azure plan")
    two = await register(enforcement, partner_id, customer_id, commerce="legacy")
    headers = enforcement.headers(partner_id)
    hold = (
        await enforcement.http.post(
            "/v1/enforcement/holds",
            json={
                "customer_id": customer_id,
                "subscription_id": one["subscription_id"],
                "reason": "misuse",
            },
            headers=headers,
        )
    ).json()
    released = (
        await enforcement.http.post(
            "/v1/enforcement/holds",
            json={"customer_id": customer_id, "reason": "manual"},
            headers=headers,
        )
    ).json()
    await enforcement.http.post(
        f"/v1/enforcement/holds/{released['id']}/release", json={"note": "ok"}, headers=headers
    )

    detail = (await enforcement.http.get(f"{CUSTOMERS}/{customer_id}", headers=headers)).json()

    assert detail["customer_id"] == customer_id
    assert [h["id"] for h in detail["active_holds"]] == [hold["id"]]
    by_id = {s["subscription_id"]: s for s in detail["subscriptions"]}
    assert by_id[one["subscription_id"]]["desired_status"] == "suspended"
    assert by_id[one["subscription_id"]]["offer"] == "Azure plan"
    assert by_id[two["subscription_id"]]["desired_status"] == "active"
    assert by_id[two["subscription_id"]]["commerce"] == "legacy"


async def test_registering_a_subscription_answers_201_then_200_and_is_audited(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = (await post_customer(enforcement, partner_id))["customer_id"]
    created = await register(enforcement, partner_id, customer_id, offer="M365 E5")
    assert (created["status"], created["desired_status"], created["revision"]) == (
        "active",
        "active",
        0,
    )

    same = await register(
        enforcement,
        partner_id,
        customer_id,
        expect=200,
        subscription_id=created["subscription_id"],
        offer="M365 E5",
    )
    changed = await register(
        enforcement,
        partner_id,
        customer_id,
        expect=200,
        subscription_id=created["subscription_id"],
        commerce="legacy",
    )

    assert same["commerce"] == "new_commerce"
    assert (changed["commerce"], changed["offer"]) == ("legacy", "M365 E5")
    actions = [e.action for e in await audit(enforcement, partner_id)]
    assert actions == ["customer.recorded", "subscription.registered", "subscription.updated"]


async def test_subscription_registered_under_a_customer_hold_starts_suspended(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = (await post_customer(enforcement, partner_id))["customer_id"]
    placed = await enforcement.http.post(
        "/v1/enforcement/holds",
        json={"customer_id": customer_id, "reason": "nonpayment"},
        headers=enforcement.headers(partner_id),
    )
    assert placed.status_code == 201

    late = await register(enforcement, partner_id, customer_id)

    assert (late["status"], late["desired_status"]) == ("active", "suspended")


async def test_subscription_of_an_unknown_or_another_partners_customer_is_404(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    theirs = (await post_customer(enforcement, uuid.uuid4()))["customer_id"]
    for customer_id in (theirs, str(uuid.uuid4())):
        await register(enforcement, partner_id, customer_id, expect=404)
    listed = await enforcement.http.get(SUBSCRIPTIONS, headers=enforcement.headers(partner_id))
    assert listed.json()["items"] == []


async def test_a_subscription_of_another_customer_is_a_conflict(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    first = (await post_customer(enforcement, partner_id))["customer_id"]
    second = (await post_customer(enforcement, partner_id))["customer_id"]
    subscription = await register(enforcement, partner_id, first)

    response = await enforcement.http.post(
        f"{CUSTOMERS}/{second}/subscriptions",
        json={"subscription_id": subscription["subscription_id"], "commerce": "new_commerce"},
        headers=enforcement.headers(partner_id),
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    listed = await enforcement.http.get(
        f"{SUBSCRIPTIONS}?customer_id={second}", headers=enforcement.headers(partner_id)
    )
    assert listed.json()["items"] == []


async def test_bad_registry_input_is_problem_json_and_stores_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    headers = enforcement.headers(partner_id)
    for body in [
        {},
        {"customer_id": "nope"},
        {"customer_id": str(uuid.uuid4()), "risk_tier": "extreme"},
        {"customer_id": str(uuid.uuid4()), "approved_at": "2026-03-01T10:00:00"},
        {"customer_id": str(uuid.uuid4()), "vendor_tenant_id": "tenant"},
        {"customer_id": str(uuid.uuid4()), "mfa_attested": "perhaps"},
        {"customer_id": str(uuid.uuid4()), "nickname": "x"},
    ]:
        response = await enforcement.http.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    customer_id = (await post_customer(enforcement, partner_id))["customer_id"]
    for body in [
        {"subscription_id": "not-a-guid", "commerce": "new_commerce"},
        {"subscription_id": str(uuid.uuid4()), "commerce": "csp"},
        {"subscription_id": str(uuid.uuid4())},
        {"subscription_id": str(uuid.uuid4()), "commerce": "legacy", "offer": ""},
        {"subscription_id": str(uuid.uuid4()), "commerce": "legacy", "status": "active"},
    ]:
        response = await enforcement.http.post(
            f"{CUSTOMERS}/{customer_id}/subscriptions", json=body, headers=headers
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"

    customers = (await enforcement.http.get(CUSTOMERS, headers=headers)).json()["items"]
    assert [c["customer_id"] for c in customers] == [customer_id]
    assert (await enforcement.http.get(SUBSCRIPTIONS, headers=headers)).json()["items"] == []
    assert [e.action for e in await audit(enforcement, partner_id)] == ["customer.recorded"]


async def test_lists_filter_and_page(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    tenant = str(uuid.uuid4())
    customers = [
        await post_customer(enforcement, partner_id, vendor_tenant_id=tenant),
        await post_customer(enforcement, partner_id),
        await post_customer(enforcement, partner_id),
    ]
    first_customer = customers[0]["customer_id"]
    subs = [await register(enforcement, partner_id, first_customer) for _ in range(3)]
    other = await register(enforcement, partner_id, customers[1]["customer_id"])
    headers = enforcement.headers(partner_id)
    await enforcement.http.post(
        "/v1/enforcement/holds",
        json={
            "customer_id": first_customer,
            "subscription_id": subs[0]["subscription_id"],
            "reason": "fraud",
        },
        headers=headers,
    )

    async def ids(url: str) -> list[str]:
        response = await enforcement.http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        return [
            item.get("subscription_id") or item["customer_id"] for item in response.json()["items"]
        ]

    assert await ids(CUSTOMERS) == [c["customer_id"] for c in customers]
    assert await ids(f"{CUSTOMERS}?vendor_tenant_id={tenant}") == [first_customer]
    assert await ids(f"{SUBSCRIPTIONS}?customer_id={first_customer}") == [
        s["subscription_id"] for s in subs
    ]
    assert await ids(f"{SUBSCRIPTIONS}?desired_status=suspended") == [subs[0]["subscription_id"]]
    assert await ids(f"{SUBSCRIPTIONS}?status=active") == [
        s["subscription_id"] for s in [*subs, other]
    ]
    assert await ids(f"{SUBSCRIPTIONS}?status=suspended") == []

    page_one = (await enforcement.http.get(f"{SUBSCRIPTIONS}?limit=2", headers=headers)).json()
    page_two = (
        await enforcement.http.get(
            f"{SUBSCRIPTIONS}?limit=2&cursor={page_one['next_cursor']}", headers=headers
        )
    ).json()
    assert [s["subscription_id"] for s in page_one["items"] + page_two["items"]] == [
        s["subscription_id"] for s in [*subs, other]
    ]
    assert page_two["next_cursor"] is None
    bad = await enforcement.http.get(f"{SUBSCRIPTIONS}?desired_status=gone", headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_another_partners_customers_are_not_found_and_not_listed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = (await post_customer(enforcement, partner_id))["customer_id"]
    await register(enforcement, partner_id, customer_id)
    other = enforcement.headers(uuid.uuid4())

    got = await enforcement.http.get(f"{CUSTOMERS}/{customer_id}", headers=other)
    unknown = await enforcement.http.get(
        f"{CUSTOMERS}/{uuid.uuid4()}", headers=enforcement.headers(partner_id)
    )

    assert got.status_code == 404
    assert got.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404
    assert (await enforcement.http.get(CUSTOMERS, headers=other)).json()["items"] == []
    assert (await enforcement.http.get(SUBSCRIPTIONS, headers=other)).json()["items"] == []


async def test_registry_needs_write_scope_to_change_and_read_scope_to_read(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = (await post_customer(enforcement, partner_id))["customer_id"]
    read_only = enforcement.headers(partner_id, scopes=["enforcement:read"])
    write_only = enforcement.headers(partner_id, scopes=["enforcement:write"])
    other_service = enforcement.headers(partner_id, scopes=["billing:read", "billing:write"])

    responses = [
        await enforcement.http.post(
            CUSTOMERS, json={"customer_id": str(uuid.uuid4())}, headers=read_only
        ),
        await enforcement.http.post(
            f"{CUSTOMERS}/{customer_id}/subscriptions",
            json={"subscription_id": str(uuid.uuid4()), "commerce": "legacy"},
            headers=read_only,
        ),
        await enforcement.http.get(CUSTOMERS, headers=write_only),
        await enforcement.http.get(f"{CUSTOMERS}/{customer_id}", headers=write_only),
        await enforcement.http.get(SUBSCRIPTIONS, headers=other_service),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses)
    listed = (await enforcement.http.get(CUSTOMERS, headers=read_only)).json()["items"]
    assert [c["customer_id"] for c in listed] == [customer_id]
