"""Partners (platform operator) and a partner's OAuth clients: roles, one-time secrets,
rotation, revocation, tenant isolation, bad input."""

from __future__ import annotations

import httpx

from partnerguard.gateway.roles import Role
from tests.support.gateway import Credentials, RunningGateway, bearer, new_client, token_for


async def _token(gw: RunningGateway, role: Role) -> tuple[Credentials, str]:
    creds = await new_client(gw.db, role)
    return creds, await token_for(gw.http, creds)


async def test_the_platform_admin_creates_and_lists_partners(gw: RunningGateway) -> None:
    _, token = await _token(gw, Role.PLATFORM_ADMIN)
    created = await gw.http.post("/v1/partners", json={"name": "Contoso"}, headers=bearer(token))
    assert created.status_code == 201
    assert created.json()["kind"] == "partner"
    listed = await gw.http.get("/v1/partners", headers=bearer(token))
    assert "Contoso" in {p["name"] for p in listed.json()["items"]}
    again = await gw.http.post("/v1/partners", json={"name": "Contoso"}, headers=bearer(token))
    assert again.status_code == 409


async def test_partner_roles_cannot_manage_partners(gw: RunningGateway) -> None:
    _, token = await _token(gw, Role.GLOBAL_ADMIN)
    assert (await gw.http.get("/v1/partners", headers=bearer(token))).status_code == 403
    response = await gw.http.post("/v1/partners", json={"name": "x"}, headers=bearer(token))
    assert response.status_code == 403


async def test_a_user_management_admin_creates_a_client_whose_secret_is_shown_once(
    gw: RunningGateway,
) -> None:
    uma, token = await _token(gw, Role.USER_MANAGEMENT_ADMIN)
    created = await gw.http.post(
        "/v1/clients", json={"name": "ERP", "role": "billing_admin"}, headers=bearer(token)
    )
    assert created.status_code == 201
    body = created.json()
    assert body["client_secret"].startswith("pgs_")
    assert body["scopes"] == ["billing:read", "billing:write"]
    assert body["partner_id"] == str(uma.partner_id)

    shown = await gw.http.get(f"/v1/clients/{body['id']}", headers=bearer(token))
    assert shown.status_code == 200
    assert "client_secret" not in shown.json()
    new = Credentials(uma.partner_id, body["client_id"], body["client_secret"])
    claims_scope = (
        await gw.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(new.client_id, new.client_secret),
        )
    ).json()["scope"]
    assert claims_scope == "billing:read billing:write"


async def test_only_a_global_admin_creates_a_global_admin(gw: RunningGateway) -> None:
    _, uma_token = await _token(gw, Role.USER_MANAGEMENT_ADMIN)
    refused = await gw.http.post(
        "/v1/clients", json={"name": "x", "role": "global_admin"}, headers=bearer(uma_token)
    )
    assert refused.status_code == 403
    _, ga_token = await _token(gw, Role.GLOBAL_ADMIN)
    allowed = await gw.http.post(
        "/v1/clients", json={"name": "x", "role": "global_admin"}, headers=bearer(ga_token)
    )
    assert allowed.status_code == 201


async def test_roles_without_client_management_are_forbidden(gw: RunningGateway) -> None:
    _, token = await _token(gw, Role.BILLING_ADMIN)
    assert (await gw.http.get("/v1/clients", headers=bearer(token))).status_code == 403
    response = await gw.http.post(
        "/v1/clients", json={"name": "x", "role": "billing_admin"}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert (await gw.http.get("/v1/clients")).status_code == 401


async def test_another_partners_client_is_not_found_anywhere(gw: RunningGateway) -> None:
    _, mine = await _token(gw, Role.GLOBAL_ADMIN)
    theirs, their_token = await _token(gw, Role.GLOBAL_ADMIN)
    their_client = (await gw.http.get("/v1/clients", headers=bearer(their_token))).json()["items"][
        0
    ]
    path = f"/v1/clients/{their_client['id']}"
    assert (await gw.http.get(path, headers=bearer(mine))).status_code == 404
    assert (await gw.http.delete(path, headers=bearer(mine))).status_code == 404
    assert (await gw.http.post(f"{path}/secret", headers=bearer(mine))).status_code == 404
    listed = (await gw.http.get("/v1/clients", headers=bearer(mine))).json()["items"]
    assert their_client["id"] not in {c["id"] for c in listed}
    # Untouched: the other partner's client still gets tokens.
    assert await token_for(gw.http, theirs)


async def test_a_rotated_secret_replaces_the_old_one(gw: RunningGateway) -> None:
    admin, token = await _token(gw, Role.GLOBAL_ADMIN)
    client = (await gw.http.get("/v1/clients", headers=bearer(token))).json()["items"][0]
    rotated = await gw.http.post(f"/v1/clients/{client['id']}/secret", headers=bearer(token))
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret != admin.client_secret

    def form(secret: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": admin.client_id,
            "client_secret": secret,
        }

    assert (await gw.http.post("/oauth/token", data=form(admin.client_secret))).status_code == 401
    assert (await gw.http.post("/oauth/token", data=form(new_secret))).status_code == 200


async def test_a_revoked_client_loses_its_tokens_at_once(gw: RunningGateway) -> None:
    admin, token = await _token(gw, Role.GLOBAL_ADMIN)
    worker = await new_client(gw.db, Role.BILLING_ADMIN, admin.partner_id)
    worker_token = await token_for(gw.http, worker)
    listed = (await gw.http.get("/v1/clients", headers=bearer(token))).json()["items"]
    target = next(c for c in listed if c["client_id"] == worker.client_id)
    assert (
        await gw.http.delete(f"/v1/clients/{target['id']}", headers=bearer(token))
    ).status_code == 204
    await gw.gateway.revocations.refresh()
    refused = await gw.http.get("/v1/billing/invoices", headers=bearer(worker_token))
    assert refused.status_code == 401
    shown = (await gw.http.get(f"/v1/clients/{target['id']}", headers=bearer(token))).json()
    assert shown["status"] == "revoked"


async def test_bad_input_is_a_problem_and_changes_nothing(gw: RunningGateway) -> None:
    _, token = await _token(gw, Role.GLOBAL_ADMIN)
    before = (await gw.http.get("/v1/clients", headers=bearer(token))).json()["items"]
    for body in (
        {"name": "x", "role": "platform_admin"},
        {"name": "x", "role": "superuser"},
        {"name": "", "role": "billing_admin"},
        {"role": "billing_admin"},
        {"name": "x", "role": "billing_admin", "partner_id": "someone-else"},
    ):
        response = await gw.http.post("/v1/clients", json=body, headers=bearer(token))
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]
    malformed = await gw.http.post(
        "/v1/clients",
        content=b"{not json",
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert (await gw.http.get("/v1/clients/not-a-uuid", headers=bearer(token))).status_code == 422
    after = (await gw.http.get("/v1/clients", headers=bearer(token))).json()["items"]
    assert after == before


async def test_secrets_never_reach_the_logs(gw: RunningGateway, capsys: object) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    admin, token = await _token(gw, Role.GLOBAL_ADMIN)
    created = await gw.http.post(
        "/v1/clients", json={"name": "x", "role": "billing_admin"}, headers=bearer(token)
    )
    await gw.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(admin.client_id, "wrong"),
    )
    output = capsys.readouterr()
    for secret in (admin.client_secret, created.json()["client_secret"], token):
        assert secret not in output.out + output.err
