"""The webhooks API: create, read, change, rotate, disable and enable; refusals and walls."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from partnerguard.common.tables import OutboxEvent
from partnerguard.gateway.models import Webhook
from partnerguard.gateway.roles import Role
from tests.support.gateway import RunningGateway, bearer, new_client, token_for

# A public address, as a literal so no DNS is needed (the API tests send nothing to it).
PUBLIC_URL = "https://93.184.215.14/partnerguard"
PROBLEM = "application/problem+json"


async def admin(gw: RunningGateway, scope: str | None = None) -> dict[str, str]:
    creds = await new_client(gw.db, Role.USER_MANAGEMENT_ADMIN)
    return bearer(await token_for(gw.http, creds, scope))


async def create(gw: RunningGateway, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {"url": PUBLIC_URL, "event_types": ["billing.*"], **body}
    return await gw.http.post("/v1/webhooks", json=payload, headers=headers)


async def stored_webhooks(gw: RunningGateway) -> list[Webhook]:
    async with gw.db.sweep_session() as session:
        return list((await session.execute(select(Webhook))).scalars().all())


async def test_create_shows_the_secret_once_then_reads_without_it(gw: RunningGateway) -> None:
    headers = await admin(gw)
    created = await create(
        gw, headers, event_types=["billing.customer.delinquent", "enforcement.*"], description="ERP"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["status"] == "enabled"
    assert body["event_types"] == ["billing.customer.delinquent", "enforcement.*"]

    got = await gw.http.get(f"/v1/webhooks/{body['id']}", headers=headers)
    assert got.status_code == 200
    assert "secret" not in got.json()
    assert got.json()["url"] == PUBLIC_URL

    listed = await gw.http.get("/v1/webhooks", headers=headers)
    assert [w["id"] for w in listed.json()["items"]] == [body["id"]]

    # Only a seal of the secret is stored.
    [row] = await stored_webhooks(gw)
    assert body["secret"].encode() not in row.sealed_secret


async def test_list_pages_with_a_cursor(gw: RunningGateway) -> None:
    headers = await admin(gw)
    ids = [(await create(gw, headers)).json()["id"] for _ in range(3)]
    first = (await gw.http.get("/v1/webhooks?limit=2", headers=headers)).json()
    second = (
        await gw.http.get(f"/v1/webhooks?limit=2&cursor={first['next_cursor']}", headers=headers)
    ).json()
    assert [w["id"] for w in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://192.168.10.1/hook",
        "https://172.20.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://169.254.10.10/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",  # 127.0.0.1 spelled as a number
        "https://[::1]/hook",
        "https://[fd12:3456::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:a9fe:a9fe]/hook",
        "http://93.184.215.14/hook",  # plain http
    ],
)
async def test_internal_and_plain_http_urls_are_refused_and_nothing_stored(
    gw: RunningGateway, url: str
) -> None:
    response = await create(gw, await admin(gw), url=url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "refused" in response.json()["detail"]
    assert await stored_webhooks(gw) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "event_types": ["billing.invoice.exploded"]}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": ["usage.*"]}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": []}, "event_types"),
        ({"url": PUBLIC_URL}, "event_types"),
        ({"url": "not a url", "event_types": ["*"]}, "url"),
        ({"url": "ftp://93.184.215.14/x", "event_types": ["*"]}, "url"),
        ({"url": "https://u:p@93.184.215.14/x", "event_types": ["*"]}, "url"),
        ({"url": PUBLIC_URL, "event_types": ["*"], "secret": "mine"}, "secret"),
    ],
)
async def test_bad_input_is_a_field_problem(
    gw: RunningGateway, body: dict[str, Any], field: str
) -> None:
    response = await gw.http.post("/v1/webhooks", json=body, headers=await admin(gw))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert any(error["loc"][:2] == ["body", field] for error in response.json()["errors"])
    assert await stored_webhooks(gw) == []


async def test_a_catch_all_filter_replaces_the_others(gw: RunningGateway) -> None:
    response = await create(gw, await admin(gw), event_types=["billing.*", "*"])
    assert response.json()["event_types"] == ["*"]


async def test_idempotent_create_replays_without_the_secret(gw: RunningGateway) -> None:
    headers = {**(await admin(gw)), "Idempotency-Key": "hook-1"}
    first = await create(gw, headers)
    again = await create(gw, headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert "secret" not in again.json()
    assert len(await stored_webhooks(gw)) == 1
    other = await create(gw, headers, event_types=["*"])
    assert other.status_code == 422


async def test_rotation_returns_a_new_secret_and_keeps_the_old_for_the_overlap(
    gw: RunningGateway,
) -> None:
    headers = await admin(gw)
    created = (await create(gw, headers)).json()
    rotated = await gw.http.post(
        f"/v1/webhooks/{created['id']}/secret", json={"overlap_seconds": 3600}, headers=headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    without_body = await gw.http.post(f"/v1/webhooks/{created['id']}/secret", headers=headers)
    assert without_body.status_code == 200
    too_long = await gw.http.post(
        f"/v1/webhooks/{created['id']}/secret",
        json={"overlap_seconds": 30 * 86400},
        headers=headers,
    )
    assert too_long.status_code == 422


async def test_patch_changes_filters_and_refuses_an_internal_url(gw: RunningGateway) -> None:
    headers = await admin(gw)
    created = (await create(gw, headers, description="old")).json()
    changed = await gw.http.patch(
        f"/v1/webhooks/{created['id']}",
        json={"event_types": ["monitoring.alert.raised"], "description": None},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["monitoring.alert.raised"]
    assert changed.json()["description"] is None
    refused = await gw.http.patch(
        f"/v1/webhooks/{created['id']}", json={"url": "https://127.0.0.1/x"}, headers=headers
    )
    assert refused.status_code == 422
    [row] = await stored_webhooks(gw)
    assert row.url == PUBLIC_URL


async def test_disable_emits_an_event_and_enable_turns_it_back_on(gw: RunningGateway) -> None:
    headers = await admin(gw)
    created = (await create(gw, headers)).json()
    disabled = await gw.http.post(f"/v1/webhooks/{created['id']}/disable", headers=headers)
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "manual"
    async with gw.db.sweep_session() as session:
        [event] = (
            (
                await session.execute(
                    select(OutboxEvent).where(OutboxEvent.event_type == "gateway.webhook.disabled")
                )
            )
            .scalars()
            .all()
        )
    assert event.envelope["data"]["webhook_id"] == created["id"]
    assert event.envelope["data"]["reason"] == "manual"
    assert str(event.partner_id) == created["partner_id"]

    listed = await gw.http.get("/v1/webhooks?status=disabled", headers=headers)
    assert [w["id"] for w in listed.json()["items"]] == [created["id"]]
    enabled = await gw.http.post(f"/v1/webhooks/{created['id']}/enable", headers=headers)
    assert enabled.json()["status"] == "enabled"
    assert enabled.json()["disabled_reason"] is None


async def test_delete_removes_the_webhook(gw: RunningGateway) -> None:
    headers = await admin(gw)
    created = (await create(gw, headers)).json()
    assert (
        await gw.http.delete(f"/v1/webhooks/{created['id']}", headers=headers)
    ).status_code == 204
    assert (await gw.http.get(f"/v1/webhooks/{created['id']}", headers=headers)).status_code == 404
    assert (
        await gw.http.delete(f"/v1/webhooks/{created['id']}", headers=headers)
    ).status_code == 404


def routes(webhook_id: str) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """Every webhook route: method, path, JSON body, the scope it needs."""
    return [
        ("POST", "/v1/webhooks", {"url": PUBLIC_URL, "event_types": ["*"]}, "write"),
        ("GET", "/v1/webhooks", None, "read"),
        ("GET", f"/v1/webhooks/{webhook_id}", None, "read"),
        ("PATCH", f"/v1/webhooks/{webhook_id}", {"description": "x"}, "write"),
        ("DELETE", f"/v1/webhooks/{webhook_id}", None, "write"),
        ("GET", f"/v1/webhooks/{webhook_id}/deliveries", None, "read"),
        ("POST", f"/v1/webhooks/{webhook_id}/secret", None, "write"),
        ("POST", f"/v1/webhooks/{webhook_id}/enable", None, "write"),
        ("POST", f"/v1/webhooks/{webhook_id}/disable", None, "write"),
    ]


async def test_every_route_needs_its_scope(gw: RunningGateway) -> None:
    webhook_id = (await create(gw, await admin(gw))).json()["id"]
    no_gateway_scopes = bearer(
        await token_for(gw.http, await new_client(gw.db, Role.BILLING_ADMIN))
    )
    read_only = await admin(gw, "gateway:read")
    for method, path, body, needs in routes(webhook_id):
        denied = await gw.http.request(method, path, json=body, headers=no_gateway_scopes)
        assert denied.status_code == 403, (method, path)
        assert denied.headers["content-type"] == PROBLEM
        if needs == "write":
            denied = await gw.http.request(method, path, json=body, headers=read_only)
            assert denied.status_code == 403, (method, path)
        missing = await gw.http.request(method, path, json=body)
        assert missing.status_code == 401, (method, path)


async def test_another_partners_webhook_is_not_found_on_every_route(gw: RunningGateway) -> None:
    owner = await admin(gw)
    webhook_id = (await create(gw, owner)).json()["id"]
    stranger = await admin(gw)
    for method, path, body, _ in routes(webhook_id)[2:]:
        response = await gw.http.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert (await gw.http.get("/v1/webhooks", headers=stranger)).json()["items"] == []
    # Untouched for its owner.
    mine = await gw.http.get(f"/v1/webhooks/{webhook_id}", headers=owner)
    assert mine.json()["status"] == "enabled"
    assert mine.json()["description"] is None


async def test_unknown_id_is_not_found(gw: RunningGateway) -> None:
    response = await gw.http.get(f"/v1/webhooks/{uuid.uuid4()}", headers=await admin(gw))
    assert response.status_code == 404
    bad = await gw.http.get("/v1/webhooks/not-a-uuid", headers=await admin(gw))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
