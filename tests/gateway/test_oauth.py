"""The OAuth 2.0 token endpoint, metadata, JWKS, key rotation and revocation."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from partnerguard.gateway.keys.service import rotate_signing_key
from partnerguard.gateway.roles import ROLE_SCOPES, Role
from tests.support.gateway import (
    ISSUER,
    Credentials,
    RunningGateway,
    bearer,
    new_client,
    token_for,
)


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


async def test_a_standard_oauth_client_gets_a_verifiable_rfc9068_token(gw: RunningGateway) -> None:
    creds = await new_client(gw.db, Role.BILLING_ADMIN)
    transport = httpx.ASGITransport(app=gw.app)
    async with AsyncOAuth2Client(
        creds.client_id,
        creds.client_secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        transport=transport,
        base_url=ISSUER,
    ) as oauth:
        token = await oauth.fetch_token(f"{ISSUER}/oauth/token", grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 900
        assert set(token["scope"].split()) == ROLE_SCOPES[Role.BILLING_ADMIN]
        listed = await oauth.get(f"{ISSUER}/.well-known/jwks.json")

    keys = KeySet.import_key_set(listed.json())
    decoded = jwt.decode(token["access_token"], keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "ES256"
    claims = decoded.claims
    assert claims["iss"] == ISSUER
    assert claims["partner_id"] == str(creds.partner_id)
    assert claims["client_id"] == claims["sub"] == creds.client_id
    assert claims["aud"] == ["partnerguard:gateway", "partnerguard:billing"]
    assert claims["exp"] - claims["iat"] == 900
    assert {"jti", "scope"} <= claims.keys()


async def test_client_secret_post_works_and_a_narrower_scope_is_granted(
    gw: RunningGateway,
) -> None:
    creds = await new_client(gw.db, Role.GLOBAL_ADMIN)
    response = await gw.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "billing:read",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "billing:read"
    assert response.headers["cache-control"] == "no-store"
    assert _claims(response.json()["access_token"])["aud"] == [
        "partnerguard:gateway",
        "partnerguard:billing",
    ]


async def test_token_lifetime_is_configurable(gw_settings: object, gateway_db: object) -> None:
    from partnerguard.gateway.settings import GatewaySettings
    from tests.support.gateway import running_gateway

    assert isinstance(gw_settings, GatewaySettings)
    settings = gw_settings.model_copy(update={"token_lifetime_seconds": 120})
    async with running_gateway(gateway_db, settings) as gw:  # type: ignore[arg-type]
        creds = await new_client(gw.db)
        claims = _claims(await token_for(gw.http, creds))
        assert claims["exp"] - claims["iat"] == 120  # type: ignore[operator]


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong_secret", 401, "invalid_client"),
        ("unknown_client", 401, "invalid_client"),
        ("no_authentication", 401, "invalid_client"),
        ("two_methods", 400, "invalid_request"),
        ("missing_grant_type", 400, "invalid_request"),
        ("repeated_parameter", 400, "invalid_request"),
        ("json_body", 400, "invalid_request"),
        ("password_grant", 400, "unsupported_grant_type"),
        ("scope_beyond_role", 400, "invalid_scope"),
        ("unknown_scope", 400, "invalid_scope"),
        ("revoked_client", 401, "invalid_client"),
    ],
)
async def test_token_errors_follow_rfc6749(
    gw: RunningGateway, case: str, status: int, error: str
) -> None:
    creds = await new_client(gw.db, Role.BILLING_ADMIN)
    auth = _basic(creds.client_id, creds.client_secret)
    body: str | dict[str, str] = "grant_type=client_credentials"
    headers = {"Content-Type": "application/x-www-form-urlencoded", **auth}
    if case == "wrong_secret":
        headers |= _basic(creds.client_id, "pgs_wrong")
    elif case == "unknown_client":
        headers |= _basic("pgc_nobody", creds.client_secret)
    elif case == "no_authentication":
        del headers["Authorization"]
    elif case == "two_methods":
        body += f"&client_id={creds.client_id}&client_secret={creds.client_secret}"
    elif case == "missing_grant_type":
        body = "scope=billing:read"
    elif case == "repeated_parameter":
        body += "&grant_type=client_credentials"
    elif case == "json_body":
        headers["Content-Type"] = "application/json"
        body = json.dumps({"grant_type": "client_credentials"})
    elif case == "password_grant":
        body = "grant_type=password&username=a&password=b"
    elif case == "scope_beyond_role":
        body += "&scope=billing:read%20enforcement:write"
    elif case == "unknown_scope":
        body += "&scope=everything"
    elif case == "revoked_client":
        admin = await new_client(gw.db, Role.GLOBAL_ADMIN, creds.partner_id)
        token = await token_for(gw.http, admin)
        listed = await gw.http.get("/v1/clients", headers=bearer(token))
        target = next(c for c in listed.json()["items"] if c["client_id"] == creds.client_id)
        assert (
            await gw.http.delete(f"/v1/clients/{target['id']}", headers=bearer(token))
        ).status_code == 204
    response = await gw.http.post("/oauth/token", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in response.json()


async def test_metadata_describes_the_authorization_server(gw: RunningGateway) -> None:
    response = await gw.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert "billing:read" in metadata["scopes_supported"]


async def _rotate(gw: RunningGateway, *, immediately: bool) -> str:
    async with gw.db.session() as session:
        key = await rotate_signing_key(
            session, gw.gateway.keys.sealer, gw.gateway.keys.policy, immediately=immediately
        )
    await gw.gateway.keys.reload()
    return key.kid


async def test_a_new_key_is_published_before_it_signs(gw: RunningGateway) -> None:
    creds = await new_client(gw.db)
    first_kid = jwt.decode(
        await token_for(gw.http, creds), await gw.gateway.keys.key_set(None)
    ).header["kid"]
    new_kid = await _rotate(gw, immediately=False)

    published = {k["kid"] for k in (await gw.http.get("/.well-known/jwks.json")).json()["keys"]}
    assert published == {first_kid, new_kid}
    token = await token_for(gw.http, creds)
    assert jwt.decode(token, await gw.gateway.keys.key_set(None)).header["kid"] == first_kid


async def test_rotation_keeps_old_tokens_valid_until_they_expire(gw: RunningGateway) -> None:
    creds = await new_client(gw.db)
    old_token = await token_for(gw.http, creds)
    new_kid = await _rotate(gw, immediately=True)
    new_token = await token_for(gw.http, creds)
    assert jwt.decode(new_token, await gw.gateway.keys.key_set(None)).header["kid"] == new_kid

    for token in (old_token, new_token):
        assert (await gw.http.get("/v1/clients", headers=bearer(token))).status_code == 200
    old_kid = jwt.decode(old_token, await gw.gateway.keys.key_set(None)).header["kid"]
    published = (await gw.http.get("/.well-known/jwks.json")).json()["keys"]
    assert {k["kid"] for k in published} == {old_kid, new_kid}


async def test_retired_key_leaves_the_jwks_once_its_tokens_have_expired(
    gw: RunningGateway,
) -> None:
    creds = await new_client(gw.db)
    old_token = await token_for(gw.http, creds)
    old_kid = jwt.decode(old_token, await gw.gateway.keys.key_set(None)).header["kid"]
    await _rotate(gw, immediately=True)
    async with gw.db.session() as session:
        from partnerguard.gateway.keys.repository import SigningKeyRepository

        keys = SigningKeyRepository(session)
        old = next(k for k in await keys.published(await keys.now()) if k.kid == old_kid)
        # As if the token lifetime had passed since the rotation.
        old.expires_at = await keys.now() - timedelta(seconds=1)
    await gw.gateway.keys.reload()
    published = (await gw.http.get("/.well-known/jwks.json")).json()["keys"]
    assert old_kid not in {k["kid"] for k in published}
    assert (await gw.http.get("/v1/clients", headers=bearer(old_token))).status_code == 401


async def _revoke(gw: RunningGateway, creds: Credentials, token: str) -> httpx.Response:
    return await gw.http.post(
        "/oauth/revoke", data={"token": token}, auth=(creds.client_id, creds.client_secret)
    )


async def test_a_revoked_token_is_refused(gw: RunningGateway) -> None:
    creds = await new_client(gw.db)
    token = await token_for(gw.http, creds)
    other = await token_for(gw.http, creds)
    assert (await _revoke(gw, creds, token)).status_code == 200

    refused = await gw.http.get("/v1/clients", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "revoked" in refused.json()["detail"]
    assert (await gw.http.get("/v1/clients", headers=bearer(other))).status_code == 200


async def test_revocation_reaches_another_replica_through_the_database(
    gw: RunningGateway, gw_settings: object
) -> None:
    from partnerguard.gateway.settings import GatewaySettings
    from tests.support.gateway import running_gateway

    assert isinstance(gw_settings, GatewaySettings)
    creds = await new_client(gw.db)
    token = await token_for(gw.http, creds)
    settings = gw_settings.model_copy(update={"secrets_key": gw.gateway.settings.secrets_key})
    async with running_gateway(gw.db, settings) as replica:
        assert (await replica.http.get("/v1/clients", headers=bearer(token))).status_code == 200
        assert (await _revoke(gw, creds, token)).status_code == 200
        await replica.gateway.revocations.refresh()
        assert (await replica.http.get("/v1/clients", headers=bearer(token))).status_code == 401


async def test_revocation_answers_200_for_nonsense_and_refuses_another_clients_token(
    gw: RunningGateway,
) -> None:
    creds = await new_client(gw.db)
    stranger = await new_client(gw.db)
    assert (await _revoke(gw, creds, "not-a-token")).status_code == 200
    token = await token_for(gw.http, stranger)
    response = await _revoke(gw, creds, token)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert (await gw.http.get("/v1/clients", headers=bearer(token))).status_code == 200
    bad = await gw.http.post("/oauth/revoke", data={"token": token}, auth=(creds.client_id, "x"))
    assert bad.status_code == 401
