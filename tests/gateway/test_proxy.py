"""The proxy: tokens, scopes and partners checked before forwarding; limits; upstream failures;
request context carried; the merged OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from joserfc.jwk import KeySet

from partnerguard.cli.embedded import EmbeddedNats, free_port
from partnerguard.common.db.engine import Database
from partnerguard.gateway.keys.store import KeyStore
from partnerguard.gateway.roles import Role
from partnerguard.gateway.settings import ExternalIssuer, GatewaySettings
from tests.support.gateway import (
    ISSUER,
    Credentials,
    RunningGateway,
    bearer,
    new_client,
    running_gateway,
    token_for,
)
from tests.support.jwks import Issuer
from tests.support.upstream import Upstream, running_upstream


class LateKeys:
    """The gateway's key store, known once the gateway runs (it needs the upstream's URL)."""

    target: KeyStore | None = None

    async def key_set(self, kid: str | None) -> KeySet:
        assert self.target is not None
        return await self.target.key_set(kid)


@dataclass
class Proxied:
    gw: RunningGateway
    upstream: Upstream
    admin: Credentials
    token: str


@pytest.fixture
async def proxied(
    gateway_db: Database, gw_settings: GatewaySettings, nats_server: EmbeddedNats
) -> AsyncIterator[Proxied]:
    async with _proxied(gateway_db, gw_settings, nats_server) as setup:
        yield setup


@asynccontextmanager
async def _proxied(
    db: Database, settings: GatewaySettings, nats_server: EmbeddedNats, **overrides: object
) -> AsyncIterator[Proxied]:
    keys = LateKeys()
    async with running_upstream(ISSUER, keys, nats_server.url) as upstream:
        update = {"service_urls": {"onboarding": upstream.url}, **overrides}
        async with running_gateway(db, settings.model_copy(update=update)) as gw:
            keys.target = gw.gateway.keys
            assert await gw.gateway.proxy.load_document("onboarding")
            admin = await new_client(db, Role.ADMIN_AGENT)
            yield Proxied(gw, upstream, admin, await token_for(gw.http, admin))


async def _create_item(p: Proxied, token: str | None = None) -> str:
    response = await p.gw.http.post(
        "/v1/onboarding/items", json={"name": "first"}, headers=bearer(token or p.token)
    )
    assert response.status_code == 201, response.text
    item_id: str = response.json()["id"]
    return item_id


async def test_a_request_with_the_right_scope_reaches_the_service(proxied: Proxied) -> None:
    item_id = await _create_item(proxied)
    response = await proxied.gw.http.get(
        f"/v1/onboarding/items/{item_id}", headers=bearer(proxied.token)
    )
    assert response.status_code == 200
    assert response.json() == {"id": item_id, "name": "first"}


async def test_a_missing_token_is_refused_before_forwarding(proxied: Proxied) -> None:
    response = await proxied.gw.http.get(
        "/v1/onboarding/items/00000000-0000-0000-0000-000000000000"
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert proxied.upstream.state.calls == 0


async def test_an_insufficient_scope_is_refused_before_forwarding(proxied: Proxied) -> None:
    billing = await new_client(proxied.gw.db, Role.BILLING_ADMIN, proxied.admin.partner_id)
    token = await token_for(proxied.gw.http, billing)
    response = await proxied.gw.http.post(
        "/v1/onboarding/items", json={"name": "x"}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert "onboarding:write" in response.json()["detail"]
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="onboarding:write"'
    )
    assert proxied.upstream.state.calls == 0


async def test_route_scopes_come_from_the_services_document(proxied: Proxied) -> None:
    item_id = await _create_item(proxied)
    read_only = await token_for(proxied.gw.http, proxied.admin, scope="onboarding:read")
    calls = proxied.upstream.state.calls
    response = await proxied.gw.http.get(
        f"/v1/onboarding/items/{item_id}/audit", headers=bearer(read_only)
    )
    assert response.status_code == 403  # a GET, but the route asks for onboarding:write
    assert proxied.upstream.state.calls == calls


async def test_another_partners_object_is_not_found(proxied: Proxied) -> None:
    item_id = await _create_item(proxied)
    stranger = await new_client(proxied.gw.db, Role.ADMIN_AGENT)
    response = await proxied.gw.http.get(
        f"/v1/onboarding/items/{item_id}",
        headers=bearer(await token_for(proxied.gw.http, stranger)),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unknown_route_or_service_is_not_found_and_not_forwarded(proxied: Proxied) -> None:
    for path in ("/v1/onboarding/nothing-here", "/v1/unknown/things"):
        response = await proxied.gw.http.get(path, headers=bearer(proxied.token))
        assert response.status_code == 404, path
    assert proxied.upstream.state.calls == 0


async def test_request_id_and_trace_context_are_passed_on(proxied: Proxied) -> None:
    item_id = await _create_item(proxied)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await proxied.gw.http.get(
        f"/v1/onboarding/items/{item_id}",
        headers={
            **bearer(proxied.token),
            "X-Request-ID": "req-123",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
    )
    assert response.status_code == 200
    seen = proxied.upstream.state.last_headers
    assert seen["x-request-id"] == "req-123"
    assert seen["traceparent"].split("-")[1] == trace_id
    assert response.headers["x-request-id"] == "req-123"


async def test_large_responses_stream_through(proxied: Proxied) -> None:
    response = await proxied.gw.http.get("/v1/onboarding/stream", headers=bearer(proxied.token))
    assert response.status_code == 200
    assert len(response.content) == 64 * 16384


async def test_an_oversized_body_is_refused_with_413(
    gateway_db: Database, gw_settings: GatewaySettings, nats_server: EmbeddedNats
) -> None:
    async with _proxied(gateway_db, gw_settings, nats_server, proxy_max_body_bytes=1024) as p:
        big = {"name": "x" * 2000}
        declared = await p.gw.http.post("/v1/onboarding/items", json=big, headers=bearer(p.token))
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            yield b"x" * 2000
            yield b'"}'

        streamed = await p.gw.http.post(
            "/v1/onboarding/items",
            content=chunks(),
            headers={**bearer(p.token), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        assert p.upstream.state.calls == 0


async def test_the_rate_limit_answers_429_with_retry_after(
    gateway_db: Database, gw_settings: GatewaySettings, nats_server: EmbeddedNats
) -> None:
    async with _proxied(
        gateway_db, gw_settings, nats_server, rate_limit_burst=3, rate_limit_per_second=0.5
    ) as p:
        item_id = await _create_item(p)  # one of the three
        statuses = []
        for _ in range(3):
            response = await p.gw.http.get(
                f"/v1/onboarding/items/{item_id}", headers=bearer(p.token)
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429]
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-remaining"] == "0"
        # Another client of the same partner has its own bucket.
        other = await new_client(p.gw.db, Role.ADMIN_AGENT, p.admin.partner_id)
        fresh = await p.gw.http.get(
            f"/v1/onboarding/items/{item_id}",
            headers=bearer(await token_for(p.gw.http, other)),
        )
        assert fresh.status_code == 200
        assert fresh.headers["ratelimit-remaining"] == "2"


async def test_an_unreachable_service_is_503_and_a_slow_one_504(
    gateway_db: Database, gw_settings: GatewaySettings, nats_server: EmbeddedNats
) -> None:
    async with _proxied(gateway_db, gw_settings, nats_server, proxy_read_timeout_seconds=0.3) as p:
        slow = await p.gw.http.get("/v1/onboarding/slow", headers=bearer(p.token))
        assert slow.status_code == 504
        assert slow.headers["content-type"] == "application/problem+json"

        p.gw.gateway.settings.service_urls["onboarding"] = f"http://127.0.0.1:{free_port()}"
        down = await p.gw.http.get("/v1/onboarding/slow", headers=bearer(p.token))
        assert down.status_code == 503
        assert down.json()["detail"] == "the onboarding service is unavailable"


async def test_the_merged_openapi_describes_every_service_under_oauth2(proxied: Proxied) -> None:
    document = (await proxied.gw.http.get("/openapi.json")).json()
    assert {"/oauth/token", "/v1/clients", "/v1/partners", "/v1/onboarding/items"} <= set(
        document["paths"]
    )
    assert "/healthz" not in document["paths"]
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == f"{ISSUER}/oauth/token"
    assert document["paths"]["/v1/onboarding/items/{item_id}/audit"]["get"]["security"] == [
        {"OAuth2": ["onboarding:write"]}
    ]
    assert set(document["components"]["securitySchemes"]) == {"OAuth2"}
    refs = str(document)
    for ref in (part for part in refs.split("'$ref': '")[1:]):
        name = ref.split("'")[0].rsplit("/", 1)[1]
        assert name in document["components"]["schemas"], name
    docs = await proxied.gw.http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_responses_carry_security_headers_and_no_cors_by_default(proxied: Proxied) -> None:
    response = await proxied.gw.http.get(
        "/.well-known/jwks.json", headers={"Origin": "https://evil.example"}
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" in response.headers
    assert "access-control-allow-origin" not in response.headers


async def test_an_external_issuers_token_is_mapped_and_exchanged(
    gateway_db: Database, gw_settings: GatewaySettings, nats_server: EmbeddedNats, issuer: Issuer
) -> None:
    partner_id = (await new_client(gateway_db, Role.ADMIN_AGENT)).partner_id
    external = ExternalIssuer(
        issuer=issuer.url,
        jwks_url=issuer.jwks_url,
        audience="api://partnerguard",
        algorithms=["ES256"],
        partner_id=partner_id,
        role_map={"Partner.Agent": "admin_agent"},
    )
    async with _proxied(gateway_db, gw_settings, nats_server, external_issuers=[external]) as p:
        token = issuer.token(
            partner_id, [], audience="api://partnerguard", claims={"roles": ["Partner.Agent"]}
        )
        created = await p.gw.http.post(
            "/v1/onboarding/items", json={"name": "from idp"}, headers=bearer(token)
        )
        assert created.status_code == 201, created.text
        # The service saw a token of the gateway's, for the mapped partner.
        forwarded = p.upstream.state.last_headers["authorization"].split()[1]
        assert forwarded != token
        assert created.json()["id"] in {str(i) for i in p.upstream.state.items[partner_id]}

        unmapped = issuer.token(
            partner_id, [], audience="api://partnerguard", claims={"roles": ["Reader"]}
        )
        refused = await p.gw.http.post(
            "/v1/onboarding/items", json={"name": "x"}, headers=bearer(unmapped)
        )
        assert refused.status_code == 403
        wrong_audience = issuer.token(
            partner_id, [], audience="someone-else", claims={"roles": ["Partner.Agent"]}
        )
        response = await p.gw.http.get("/v1/onboarding/stream", headers=bearer(wrong_audience))
        assert response.status_code == 401
