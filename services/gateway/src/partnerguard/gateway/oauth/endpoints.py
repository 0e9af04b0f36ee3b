"""HTTP: the OAuth 2.0 authorization server (token, revocation, JWKS, metadata)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from pydantic import BaseModel

from partnerguard.common.web.deps import RuntimeDep
from partnerguard.gateway.context import GatewayDep
from partnerguard.gateway.oauth import service
from partnerguard.gateway.oauth.client_auth import client_credentials, form_field, read_form
from partnerguard.gateway.oauth.errors import NO_STORE, OAuthError
from partnerguard.gateway.oauth.tokens import issue_access_token
from partnerguard.gateway.roles import ALL_SCOPES

router = APIRouter(tags=["oauth"])

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "description": "Space-separated scopes."},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    }
}
_OAUTH_ERROR = {
    "description": "OAuth 2.0 error (RFC 6749 §5.2)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            }
        }
    },
}


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
    expires_in: int
    scope: str


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Get an access token (client credentials)",
    description="OAuth 2.0 client credentials grant (RFC 6749 §4.4). Authenticate with HTTP "
    "Basic (`client_secret_basic`) or `client_id` and `client_secret` in the body "
    "(`client_secret_post`). The token is an RFC 9068 JWT signed with ES256.",
    openapi_extra=_FORM,
    responses={400: _OAUTH_ERROR, 401: _OAUTH_ERROR},
)
async def token(request: Request, runtime: RuntimeDep, gateway: GatewayDep) -> JSONResponse:
    form = await read_form(request)
    credentials = client_credentials(request, form)
    grant_type = form_field(form, "grant_type")
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required")
    async with runtime.db.sweep_session() as session:
        client = await service.authenticate_client(session, credentials)
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    scopes = service.grant_scopes(client.role, form_field(form, "scope"))
    settings = gateway.settings
    issued = issue_access_token(
        gateway.keys.signing_key(),
        issuer=settings.issuer(),
        gateway_audience=settings.auth_audience,
        client_id=client.client_id,
        partner_id=client.partner_id,
        scopes=scopes,
        lifetime=settings.token_lifetime_seconds,
        role=client.role.value,
    )
    body = TokenResponse(
        access_token=issued.token, expires_in=issued.expires_in, scope=" ".join(sorted(scopes))
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@router.post(
    "/oauth/revoke",
    summary="Revoke an access token (RFC 7009)",
    description="The client that got the token revokes it; the gateway refuses it from then on. "
    "An invalid or expired token is answered 200, as RFC 7009 §2.2 asks.",
    openapi_extra=_FORM
    | {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": {"type": "string"},
                            "token_type_hint": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
    responses={
        200: {"description": "Revoked, or nothing to revoke"},
        400: _OAUTH_ERROR,
        401: _OAUTH_ERROR,
    },
)
async def revoke(request: Request, runtime: RuntimeDep, gateway: GatewayDep) -> Response:
    form = await read_form(request)
    credentials = client_credentials(request, form)
    raw = form_field(form, "token")
    if raw is None:
        raise OAuthError("invalid_request", "token is required")
    async with runtime.db.sweep_session() as session:
        client = await service.authenticate_client(session, credentials)
    claims = await _own_token_claims(gateway, raw)
    if claims is None:
        return Response(status_code=200, headers=NO_STORE)
    if claims.get("client_id") != client.client_id:
        raise OAuthError("unauthorized_client", "the token was not issued to this client")
    jti, exp = str(claims["jti"]), int(claims["exp"])
    async with runtime.db.tenant_session(client.partner_id) as session:
        await service.record_revocation(
            session,
            jti=jti,
            partner_id=client.partner_id,
            client_id=client.client_id,
            expires_at=exp,
        )
    gateway.revocations.add_token(jti, exp)
    return Response(status_code=200, headers=NO_STORE)


async def _own_token_claims(gateway: GatewayDep, raw: str) -> dict[str, Any] | None:
    """The claims of a token this gateway signed and that has not expired; else None."""
    try:
        token = jwt.decode(raw, await gateway.keys.key_set(None), algorithms=["ES256"])
    except (JoseError, ValueError):
        return None
    claims = token.claims
    if claims.get("iss") != gateway.settings.issuer() or "jti" not in claims:
        return None
    if not isinstance(claims.get("exp"), int):
        return None
    if claims["exp"] <= time.time():
        return None
    return claims


@router.get("/.well-known/jwks.json", summary="The gateway's public signing keys (JWKS)")
async def jwks(gateway: GatewayDep) -> JSONResponse:
    return JSONResponse(
        gateway.keys.jwks(),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
)
async def metadata(gateway: GatewayDep) -> JSONResponse:
    issuer = gateway.settings.issuer()
    return JSONResponse(
        {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": sorted(ALL_SCOPES),
            "service_documentation": f"{issuer}/docs",
        },
        headers={"Cache-Control": "public, max-age=3600"},
    )
