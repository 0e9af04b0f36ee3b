"""The HTTP contract every service shares: problem+json, idempotent creates, pagination, health."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, text

from partnerguard.common.db.engine import Database
from partnerguard.common.tables import IdempotencyKey, OutboxEvent
from tests.support.apps import AUDIENCE, widget_client
from tests.support.jwks import Issuer
from tests.support.widgets import Widget


@pytest.fixture
async def client(db: Database, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with widget_client(db, issuer) as http:
        yield http


def auth(issuer: Issuer, partner_id: uuid.UUID, *scopes: str) -> dict[str, str]:
    token = issuer.token(
        partner_id, list(scopes or ("widgets:read", "widgets:write")), audience=AUDIENCE
    )
    return {"Authorization": f"Bearer {token}"}


async def widget_rows(db: Database) -> int:
    async with db.sweep_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Widget)) or 0)


async def test_invalid_body_is_a_problem_and_stores_nothing(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    response = await client.post("/v1/widgets", json={"name": ""}, headers=auth(issuer, partner_id))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert body["errors"][0]["loc"] == ["body", "name"]
    assert await widget_rows(db) == 0
    async with db.sweep_session() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_malformed_json_is_a_problem(
    client: httpx.AsyncClient, issuer: Issuer, partner_id: uuid.UUID
) -> None:
    response = await client.post(
        "/v1/widgets",
        content=b'{"name": ',
        headers={**auth(issuer, partner_id), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_another_partners_object_is_not_found(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    created = await client.post("/v1/widgets", json={"name": "mine"}, headers=auth(issuer, owner))
    widget_id = created.json()["id"]
    assert (
        await client.get(f"/v1/widgets/{widget_id}", headers=auth(issuer, owner))
    ).status_code == 200
    response = await client.get(f"/v1/widgets/{widget_id}", headers=auth(issuer, other))
    assert response.status_code == 404
    listed = await client.get("/v1/widgets", headers=auth(issuer, other))
    assert listed.json()["items"] == []


async def test_same_key_and_body_replays_the_stored_answer(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    headers = {**auth(issuer, partner_id), "Idempotency-Key": "create-1"}
    first = await client.post("/v1/widgets", json={"name": "once"}, headers=headers)
    again = await client.post("/v1/widgets", json={"name": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await widget_rows(db) == 1
    async with db.tenant_session(partner_id) as session:
        kept = await session.scalar(select(IdempotencyKey.expires_at - IdempotencyKey.created_at))
    assert kept is not None
    assert kept.total_seconds() >= 24 * 3600 - 5


async def test_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    headers = {**auth(issuer, partner_id), "Idempotency-Key": "create-2"}
    await client.post("/v1/widgets", json={"name": "first"}, headers=headers)
    response = await client.post("/v1/widgets", json={"name": "second"}, headers=headers)
    assert response.status_code == 422
    assert "different request body" in response.json()["detail"]
    assert await widget_rows(db) == 1


async def test_keys_belong_to_the_calling_client(
    client: httpx.AsyncClient, issuer: Issuer, db: Database
) -> None:
    for partner in (uuid.uuid4(), uuid.uuid4()):
        headers = {**auth(issuer, partner), "Idempotency-Key": "shared-key"}
        assert (
            await client.post("/v1/widgets", json={"name": "x"}, headers=headers)
        ).status_code == 201
    assert await widget_rows(db) == 2


async def test_a_key_still_in_flight_is_a_conflict(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    lock_name = f"{partner_id}/client-1/busy-key"
    async with db.tenant_session(partner_id) as session:
        # Another request holds the key: its transaction has the key's advisory lock.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": lock_name}
        )
        headers = {**auth(issuer, partner_id), "Idempotency-Key": "busy-key"}
        response = await client.post("/v1/widgets", json={"name": "x"}, headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await widget_rows(db) == 0


async def test_concurrent_retries_create_once(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    headers = {**auth(issuer, partner_id), "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(client.post("/v1/widgets", json={"name": "r"}, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    assert await widget_rows(db) == 1


async def test_bad_idempotency_key_is_refused(
    client: httpx.AsyncClient, issuer: Issuer, partner_id: uuid.UUID
) -> None:
    headers = {**auth(issuer, partner_id), "Idempotency-Key": "x" * 300}
    response = await client.post("/v1/widgets", json={"name": "x"}, headers=headers)
    assert response.status_code == 400


async def test_pages_cover_every_item_once_in_stable_order(
    client: httpx.AsyncClient, issuer: Issuer, partner_id: uuid.UUID
) -> None:
    headers = auth(issuer, partner_id)
    created = [
        (await client.post("/v1/widgets", json={"name": f"w{i}"}, headers=headers)).json()["id"]
        for i in range(7)
    ]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/widgets", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert seen == created


async def test_bad_cursor_and_limit_are_problems(
    client: httpx.AsyncClient, issuer: Issuer, partner_id: uuid.UUID
) -> None:
    headers = auth(issuer, partner_id)
    bad_cursor = await client.get("/v1/widgets", params={"cursor": "garbage"}, headers=headers)
    assert bad_cursor.status_code == 400
    too_many = await client.get("/v1/widgets", params={"limit": 10_000}, headers=headers)
    assert too_many.status_code == 422


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    # No lifespan ran here, so NATS is not connected: readiness says so, with a 503.
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "nats": "unavailable"}
    metrics = await client.get("/metrics")
    assert "partnerguard_http_requests_total" in metrics.text


async def test_request_and_trace_ids_are_carried(client: httpx.AsyncClient) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await client.get(
        "/healthz", headers={"X-Request-ID": "req-42", "traceparent": traceparent}
    )
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_events_carry_the_requests_trace(
    client: httpx.AsyncClient, issuer: Issuer, db: Database, partner_id: uuid.UUID
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**auth(issuer, partner_id), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    await client.post("/v1/widgets", json={"name": "traced"}, headers=headers)
    async with db.sweep_session() as session:
        envelope = await session.scalar(select(OutboxEvent.envelope))
    assert envelope is not None
    assert envelope["traceparent"].split("-")[1] == trace_id
    assert envelope["partnerid"] == str(partner_id)
    assert envelope["type"] == "onboarding.widget.created"
