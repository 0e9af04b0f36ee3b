"""RFC 9068 JWT access tokens, signed by the gateway's current key."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from joserfc import jwt

from partnerguard.common.ids import new_id
from partnerguard.gateway.keys.store import PublishedKey
from partnerguard.gateway.roles import audiences


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_in: int
    scopes: frozenset[str]


def issue_access_token(
    key: PublishedKey,
    *,
    issuer: str,
    gateway_audience: str,
    client_id: str,
    partner_id: uuid.UUID,
    scopes: frozenset[str],
    lifetime: int,
    role: str | None = None,
) -> IssuedToken:
    now = int(time.time())
    jti = str(new_id())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audiences(scopes, gateway_audience),
        "sub": client_id,
        "client_id": client_id,
        "partner_id": str(partner_id),
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    if role is not None:
        claims["role"] = role
    header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    token = jwt.encode(header, claims, key.private, algorithms=["ES256"])
    return IssuedToken(token=token, jti=jti, expires_in=lifetime, scopes=scopes)
