"""RFC 9068 access-token verification: every malformed or hostile token is a 401 problem."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import ECKey

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.db.engine import Database
from tests.support.apps import widget_client
from tests.support.jwks import Issuer

AUDIENCE = "partnerguard:widgets"


@pytest.fixture
async def client(db: Database, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with widget_client(db, issuer) as http:
        yield http


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unsigned(issuer: Issuer, partner_id: uuid.UUID) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": "c",
        "iat": now,
        "exp": now + 60,
        "partner_id": str(partner_id),
        "scope": "widgets:read",
    }
    return f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."


async def get_with(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/widgets", headers={"Authorization": f"Bearer {token}"})


async def assert_refused(client: httpx.AsyncClient, token: str, reason: str) -> None:
    response = await get_with(client, token)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert reason in body["detail"]


async def test_a_valid_token_is_accepted(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(uuid.uuid4(), ["widgets:read"], audience=AUDIENCE)
    response = await get_with(client, token)
    assert response.status_code == 200, response.text


async def test_missing_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/widgets")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_bad_signature_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    stranger = ECKey.generate_key("P-256", {"kid": issuer.keys[-1].kid})
    token = issuer.token(uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, key=stranger)
    await assert_refused(client, token, "invalid")


async def test_alg_none_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    await assert_refused(client, unsigned(issuer, uuid.uuid4()), "algorithm")


async def test_hmac_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    public_pem = issuer.keys[-1].as_pem(private=False)
    now = int(time.time())
    claims = {
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": "c",
        "iat": now,
        "exp": now + 60,
        "partner_id": str(uuid.uuid4()),
        "scope": "widgets:read",
    }
    # The classic confusion attack, forged by hand: HMAC keyed with the public key's PEM.
    signing_input = (
        f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': issuer.keys[-1].kid})}.{b64(claims)}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    await assert_refused(client, token, "algorithm")


@pytest.mark.parametrize("typ", [None, "JWT", "jwt"])
async def test_missing_or_wrong_typ_is_refused(
    client: httpx.AsyncClient, issuer: Issuer, typ: str | None
) -> None:
    token = issuer.token(uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, header={"typ": typ})
    await assert_refused(client, token, "typ")


async def test_wrong_audience_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(uuid.uuid4(), ["widgets:read"], audience="partnerguard:billing")
    await assert_refused(client, token, "aud")


async def test_wrong_issuer_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(
        uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, claims={"iss": "https://evil.example"}
    )
    await assert_refused(client, token, "issuer")


async def test_expired_token_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, lifetime=-120)
    await assert_refused(client, token, "exp")


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u"])
async def test_key_carrying_headers_are_refused(
    client: httpx.AsyncClient, issuer: Issuer, header: str
) -> None:
    attacker = ECKey.generate_key("P-256")
    value: object = (
        attacker.as_dict(private=False) if header == "jwk" else "https://evil.example/keys"
    )
    token = issuer.token(
        uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, header={header: value}, key=attacker
    )
    await assert_refused(client, token, header)


async def test_token_without_partner_is_refused(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(
        uuid.uuid4(), ["widgets:read"], audience=AUDIENCE, claims={"partner_id": None}
    )
    await assert_refused(client, token, "partner")


async def test_insufficient_scope_is_forbidden(client: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(uuid.uuid4(), ["widgets:write"], audience=AUDIENCE)
    response = await get_with(client, token)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "widgets:read" in response.json()["detail"]
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="widgets:read"'
    )


async def test_rotated_key_is_fetched_and_unknown_kids_are_rate_limited() -> None:
    issuer = Issuer()
    issuer.start()
    try:
        verifier = TokenVerifier(
            [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)],
            min_refresh_interval=0.5,
        )
        partner = uuid.uuid4()
        old_token = issuer.token(partner, ["widgets:read"], audience=AUDIENCE)
        assert (await verifier.verify(old_token)).partner_id == partner
        assert issuer.fetches == 1

        # A token with a kid nobody published: one refetch at most per interval, however many.
        await asyncio.sleep(0.6)
        ghost = ECKey.generate_key("P-256", {"kid": "ghost"})
        for _ in range(5):
            with pytest.raises(Exception, match="invalid"):
                await verifier.verify(issuer.token(partner, [], audience=AUDIENCE, key=ghost))
        assert issuer.fetches == 2

        # Rotation: a new key published; the old key's tokens stay valid.
        verifier = TokenVerifier(
            [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)],
            min_refresh_interval=0.0,
        )
        assert (await verifier.verify(old_token)).partner_id == partner
        issuer.rotate()
        new_token = issuer.token(partner, ["widgets:read"], audience=AUDIENCE)
        assert (await verifier.verify(new_token)).scopes == frozenset({"widgets:read"})
        assert (await verifier.verify(old_token)).partner_id == partner
        await verifier.aclose()
    finally:
        issuer.stop()


def test_hmac_and_none_cannot_be_configured() -> None:
    for algorithm in ("HS256", "none"):
        with pytest.raises(ValueError, match="asymmetric"):
            TrustedIssuer(issuer="x", jwks_url="y", audience="z", algorithms=frozenset({algorithm}))
