"""Holds over HTTP: place, list, read, release — with idempotency, isolation and scopes."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.enforcement import RunningEnforcement

HOLDS = "/v1/enforcement/holds"


async def add_customer(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, subscriptions: int = 1
) -> tuple[str, list[str]]:
    headers = enforcement.headers(partner_id)
    customer_id = str(uuid.uuid4())
    created = await enforcement.http.post(
        "/v1/enforcement/customers", json={"customer_id": customer_id}, headers=headers
    )
    assert created.status_code == 201, created.text
    subscription_ids = []
    for _ in range(subscriptions):
        subscription_id = str(uuid.uuid4())
        registered = await enforcement.http.post(
            f"/v1/enforcement/customers/{customer_id}/subscriptions",
            json={"subscription_id": subscription_id, "commerce": "new_commerce"},
            headers=headers,
        )
        assert registered.status_code == 201, registered.text
        subscription_ids.append(subscription_id)
    return customer_id, subscription_ids


async def place(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, **body: Any
) -> dict[str, Any]:
    response = await enforcement.http.post(
        HOLDS, json=body, headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def desired(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, customer_id: str
) -> dict[str, tuple[str, int]]:
    response = await enforcement.http.get(
        f"/v1/enforcement/customers/{customer_id}", headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 200
    return {
        s["subscription_id"]: (s["desired_status"], s["revision"])
        for s in response.json()["subscriptions"]
    }


async def test_placing_a_hold_answers_201_and_suspends_the_customer(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, (subscription,) = await add_customer(enforcement, partner_id)

    hold = await place(
        enforcement, partner_id, customer_id=customer_id, reason="fraud", note="card testing"
    )

    assert hold["status"] == "active"
    assert hold["target_type"] == "customer"
    assert hold["subscription_id"] is None
    assert hold["placed_by"] == "client:client-1"
    assert hold["note"] == "card testing"
    assert await desired(enforcement, partner_id, customer_id) == {subscription: ("suspended", 1)}
    (placed,) = await enforcement.events(partner_id, "enforcement.hold.placed")
    assert placed["data"]["hold_id"] == hold["id"]


async def test_placing_an_active_hold_again_answers_200_with_the_same_hold(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await add_customer(enforcement, partner_id)
    first = await place(enforcement, partner_id, customer_id=customer_id, reason="nonpayment")

    again = await enforcement.http.post(
        HOLDS,
        json={"customer_id": customer_id, "reason": "nonpayment"},
        headers=enforcement.headers(partner_id),
    )

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert len(await enforcement.events(partner_id, "enforcement.hold.placed")) == 1


async def test_idempotency_key_replays_the_answer_and_refuses_another_body(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await add_customer(enforcement, partner_id)
    headers = enforcement.headers(partner_id, **{"Idempotency-Key": "hold-1"})
    body = {"customer_id": customer_id, "reason": "manual", "note": "investigating"}

    first = await enforcement.http.post(HOLDS, json=body, headers=headers)
    replay = await enforcement.http.post(HOLDS, json=body, headers=headers)
    other = await enforcement.http.post(HOLDS, json={**body, "reason": "misuse"}, headers=headers)

    assert first.status_code == 201
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert len(await enforcement.events(partner_id, "enforcement.hold.placed")) == 1


async def test_release_over_http_with_nonpayment_and_fraud_in_either_order(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, (subscription,) = await add_customer(enforcement, partner_id)
    nonpayment = await place(enforcement, partner_id, customer_id=customer_id, reason="nonpayment")
    fraud = await place(enforcement, partner_id, customer_id=customer_id, reason="fraud")
    headers = enforcement.headers(partner_id)

    released = await enforcement.http.post(
        f"{HOLDS}/{nonpayment['id']}/release", json={"note": "paid in full"}, headers=headers
    )
    assert released.status_code == 200
    body = released.json()
    assert (body["status"], body["released_by"], body["release_note"]) == (
        "released",
        "client:client-1",
        "paid in full",
    )
    assert await desired(enforcement, partner_id, customer_id) == {subscription: ("suspended", 1)}

    await enforcement.http.post(
        f"{HOLDS}/{fraud['id']}/release", json={"note": "cleared by review"}, headers=headers
    )
    assert await desired(enforcement, partner_id, customer_id) == {subscription: ("active", 2)}


async def test_releasing_twice_is_a_409_problem(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await add_customer(enforcement, partner_id)
    hold = await place(enforcement, partner_id, customer_id=customer_id, reason="manual")
    url, headers = f"{HOLDS}/{hold['id']}/release", enforcement.headers(partner_id)
    assert (
        await enforcement.http.post(url, json={"note": "done"}, headers=headers)
    ).status_code == 200

    again = await enforcement.http.post(url, json={"note": "again"}, headers=headers)

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    got = await enforcement.http.get(f"{HOLDS}/{hold['id']}", headers=headers)
    assert got.json()["release_note"] == "done"


async def test_release_needs_a_note_and_bad_release_input_changes_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, (subscription,) = await add_customer(enforcement, partner_id)
    hold = await place(enforcement, partner_id, customer_id=customer_id, reason="misuse")
    url, headers = f"{HOLDS}/{hold['id']}/release", enforcement.headers(partner_id)

    for body in [{}, {"note": ""}, {"note": "   "}, {"note": "x" * 1001}, {"note": "ok", "x": 1}]:
        response = await enforcement.http.post(url, json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"

    assert (await enforcement.http.get(f"{HOLDS}/{hold['id']}", headers=headers)).json()[
        "status"
    ] == "active"
    assert await desired(enforcement, partner_id, customer_id) == {subscription: ("suspended", 1)}
    assert await enforcement.events(partner_id, "enforcement.hold.released") == []


async def test_bad_hold_input_is_problem_json_and_stores_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = str(uuid.uuid4())
    headers = enforcement.headers(partner_id)
    for body in [
        {"customer_id": customer_id},
        {"customer_id": customer_id, "reason": "late"},
        {"customer_id": "not-a-uuid", "reason": "fraud"},
        {"customer_id": customer_id, "subscription_id": "sub-1", "reason": "fraud"},
        {"customer_id": customer_id, "reason": "fraud", "note": "x" * 1001},
        {"customer_id": customer_id, "reason": "fraud", "target": "customer"},
        {"reason": "fraud"},
    ]:
        response = await enforcement.http.post(HOLDS, json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]

    listed = await enforcement.http.get(HOLDS, headers=headers)
    assert listed.json()["items"] == []
    customers = await enforcement.http.get("/v1/enforcement/customers", headers=headers)
    assert customers.json()["items"] == []
    assert await enforcement.events(partner_id) == []


async def test_a_hold_on_another_customers_subscription_is_422(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    _, (theirs,) = await add_customer(enforcement, partner_id)
    response = await enforcement.http.post(
        HOLDS,
        json={"customer_id": str(uuid.uuid4()), "subscription_id": theirs, "reason": "fraud"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await enforcement.events(partner_id, "enforcement.hold.placed") == []


async def test_list_filters_and_pages_newest_first(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, (one, two) = await add_customer(enforcement, partner_id, 2)
    other_customer, _ = await add_customer(enforcement, partner_id, 0)
    placed = [
        await place(enforcement, partner_id, customer_id=customer_id, reason="nonpayment"),
        await place(
            enforcement, partner_id, customer_id=customer_id, subscription_id=one, reason="fraud"
        ),
        await place(
            enforcement, partner_id, customer_id=customer_id, subscription_id=two, reason="misuse"
        ),
        await place(enforcement, partner_id, customer_id=other_customer, reason="manual"),
    ]
    headers = enforcement.headers(partner_id)
    await enforcement.http.post(
        f"{HOLDS}/{placed[0]['id']}/release", json={"note": "paid"}, headers=headers
    )

    async def ids(query: str) -> list[str]:
        response = await enforcement.http.get(f"{HOLDS}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [h["id"] for h in response.json()["items"]]

    newest_first = [h["id"] for h in reversed(placed)]
    assert await ids("") == newest_first
    assert await ids(f"customer_id={customer_id}") == newest_first[1:]
    assert await ids(f"subscription_id={one}") == [placed[1]["id"]]
    assert await ids("reason=misuse") == [placed[2]["id"]]
    assert await ids("status=released") == [placed[0]["id"]]
    assert await ids(f"status=active&customer_id={customer_id}") == newest_first[1:3]

    first = (await enforcement.http.get(f"{HOLDS}?limit=3", headers=headers)).json()
    second = (
        await enforcement.http.get(
            f"{HOLDS}?limit=3&cursor={first['next_cursor']}", headers=headers
        )
    ).json()
    assert [h["id"] for h in first["items"] + second["items"]] == newest_first
    assert second["next_cursor"] is None

    for bad in ["reason=late", "status=gone", "customer_id=x", "limit=0", "cursor=%%%"]:
        response = await enforcement.http.get(f"{HOLDS}?{bad}", headers=headers)
        assert response.status_code in (400, 422), bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_another_partners_hold_is_not_found_and_not_listed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await add_customer(enforcement, partner_id)
    hold = await place(enforcement, partner_id, customer_id=customer_id, reason="fraud")
    other = enforcement.headers(uuid.uuid4())

    got = await enforcement.http.get(f"{HOLDS}/{hold['id']}", headers=other)
    released = await enforcement.http.post(
        f"{HOLDS}/{hold['id']}/release", json={"note": "mine now"}, headers=other
    )
    listed = await enforcement.http.get(HOLDS, headers=other)
    unknown = await enforcement.http.get(
        f"{HOLDS}/{uuid.uuid4()}", headers=enforcement.headers(partner_id)
    )

    assert got.status_code == 404
    assert released.status_code == 404
    assert unknown.status_code == 404
    assert listed.json()["items"] == []
    mine = await enforcement.http.get(
        f"{HOLDS}/{hold['id']}", headers=enforcement.headers(partner_id)
    )
    assert mine.json()["status"] == "active"


async def test_holds_need_the_write_scope_to_change_and_read_scope_to_read(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _ = await add_customer(enforcement, partner_id)
    hold = await place(enforcement, partner_id, customer_id=customer_id, reason="fraud")
    read_only = enforcement.headers(partner_id, scopes=["enforcement:read"])
    write_only = enforcement.headers(partner_id, scopes=["enforcement:write"])

    placed = await enforcement.http.post(
        HOLDS, json={"customer_id": customer_id, "reason": "manual"}, headers=read_only
    )
    released = await enforcement.http.post(
        f"{HOLDS}/{hold['id']}/release", json={"note": "no"}, headers=read_only
    )
    listed = await enforcement.http.get(HOLDS, headers=write_only)
    got = await enforcement.http.get(f"{HOLDS}/{hold['id']}", headers=write_only)

    assert [r.status_code for r in (placed, released, listed, got)] == [403, 403, 403, 403]
    assert (await enforcement.http.get(HOLDS, headers=read_only)).status_code == 200
    assert len(await enforcement.events(partner_id, "enforcement.hold.placed")) == 1
    assert await enforcement.events(partner_id, "enforcement.hold.released") == []
