"""Access-token verification for resource servers (RFC 9068 §4) and the caller it yields.

Rules kept here: ``typ`` must be ``at+jwt``; ``iss`` exact; ``aud`` must name this service;
``exp`` required; algorithms pinned (never ``none``, never HMAC against a public key); the
``jwk``/``jku``/``x5u``/``x5c`` headers are never followed; keys come only from the configured
JWKS, cached, and an unknown ``kid`` refetches it at a bounded rate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from partnerguard.common.errors import Unauthorized
from partnerguard.common.tls import client_tls

log = structlog.get_logger()

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"})
_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the partner every query is scoped to, the client, and its scopes."""

    partner_id: uuid.UUID
    client_id: str
    subject: str
    scopes: frozenset[str]
    token_id: str | None = None
    expires_at: int | None = None
    issuer: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass
class ClaimMapping:
    """How an issuer's claims name the partner, the client and what it may do.

    An external identity provider rarely speaks our scopes: it names roles. With ``role_claim``
    set, the caller's scopes are those ``role_scopes`` grants its roles (a string or a list
    claim); ``scope_claim`` is then ignored. With ``partner_id`` set, every token of the issuer
    acts for that one partner (an enterprise IdP belongs to one partner) and ``partner_claim``
    is not read.
    """

    partner_claim: str = "partner_id"
    scope_claim: str = "scope"
    client_claim: str = "client_id"
    role_claim: str | None = None
    role_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    partner_id: uuid.UUID | None = None


@dataclass
class TrustedIssuer:
    issuer: str
    jwks_url: str
    audience: str
    algorithms: frozenset[str] = frozenset({"ES256"})
    claims: ClaimMapping = field(default_factory=ClaimMapping)

    def __post_init__(self) -> None:
        unsafe = set(self.algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe:
            raise ValueError(f"only asymmetric algorithms may verify access tokens, not {unsafe}")


class KeySource(Protocol):
    """Where an issuer's public keys come from; an unknown ``kid`` may trigger a refresh."""

    async def key_set(self, kid: str | None) -> KeySet: ...


class JwksCache:
    """One issuer's JSON Web Key Set, refetched on an unknown ``kid`` at most once per interval."""

    def __init__(self, url: str, client: httpx.AsyncClient, min_refresh_interval: float) -> None:
        self.url = url
        self.client = client
        self.min_refresh_interval = min_refresh_interval
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_set(self, kid: str | None) -> KeySet:
        keys = self._keys
        if keys is not None and _has_kid(keys, kid):
            return keys
        async with self._lock:
            keys = self._keys
            if keys is not None and _has_kid(keys, kid):
                return keys
            if time.monotonic() - self._fetched_at < self.min_refresh_interval and keys is not None:
                return keys  # refetched a moment ago: an unknown kid stays unknown for now
            self._fetched_at = time.monotonic()
            try:
                response = await self.client.get(self.url, timeout=5.0)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                log.warning("auth.jwks_fetch_failed", url=self.url, error=repr(exc))
                if self._keys is None:
                    raise Unauthorized("signing keys are unavailable") from exc
            assert self._keys is not None
            return self._keys


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return False
    return any(key.kid == kid for key in keys.keys)


def _unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("the token is not a signed JWT")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthorized("the token header is malformed") from exc
    if not isinstance(header, dict):
        raise Unauthorized("the token header is malformed")
    return header


def _scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return frozenset()


class TokenVerifier:
    """Verifies bearer tokens from the platform's issuer and any configured external ones."""

    CACHE_SIZE = 10_000

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        client: httpx.AsyncClient | None = None,
        leeway: int = 30,
        min_refresh_interval: float = 30.0,
        key_sources: Mapping[str, KeySource] | None = None,
    ) -> None:
        """``key_sources`` replaces the JWKS fetch for an issuer whose keys are local."""
        self._verified: OrderedDict[str, Caller] = OrderedDict()
        self._client = client or httpx.AsyncClient(timeout=5.0, verify=client_tls())
        self._owns_client = client is None
        self.leeway = leeway
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        local = dict(key_sources or {})
        self._jwks: dict[str, KeySource] = {
            issuer.issuer: local.get(issuer.issuer)
            or JwksCache(issuer.jwks_url, self._client, min_refresh_interval)
            for issuer in self._issuers.values()
        }

    async def verify(self, token: str) -> Caller:
        """The caller a valid token speaks for; Unauthorized otherwise.

        A partner system sends the same token for many requests: its verified caller is kept
        (bounded, until the token expires) so the signature is checked once, not per request.
        """
        caller = self._verified.get(token)
        if caller is None or caller.expires_at is None or caller.expires_at <= time.time():
            caller = await self._verify_signed(token)
            self._verified[token] = caller
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return caller

    async def _verify_signed(self, token: str) -> Caller:
        header = _unverified_header(token)
        for name in _FORBIDDEN_HEADERS:
            if name in header:
                raise Unauthorized(f"the token header carries '{name}', which is not accepted")
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise Unauthorized("the token is not an access token (typ must be at+jwt)")
        alg = header.get("alg")
        kid = header.get("kid")
        claims = self._peek_claims(token)
        issuer = self._issuers.get(str(claims.get("iss", "")))
        if issuer is None:
            raise Unauthorized("the token's issuer is not trusted")
        if alg not in issuer.algorithms:
            raise Unauthorized("the token's algorithm is not accepted")
        keys = await self._jwks[issuer.issuer].key_set(kid if isinstance(kid, str) else None)
        try:
            verified = jwt.decode(token, keys, algorithms=sorted(issuer.algorithms))
            JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": issuer.issuer},
                aud={"essential": True, "value": issuer.audience},
                exp={"essential": True},
                iat={"essential": True},
                sub={"essential": True},
            ).validate(verified.claims)
        except JoseError as exc:
            reason = exc.description or exc.error
            raise Unauthorized(f"the token is invalid: {reason}") from exc
        return self._caller(issuer, verified.claims)

    @staticmethod
    def _peek_claims(token: str) -> dict[str, Any]:
        """Claims before verification, only to choose the issuer's keys; never trusted."""
        payload = token.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unauthorized("the token payload is malformed") from exc
        if not isinstance(claims, dict):
            raise Unauthorized("the token payload is malformed")
        return claims

    @staticmethod
    def _caller(issuer: TrustedIssuer, claims: dict[str, Any]) -> Caller:
        mapping = issuer.claims
        partner_id = mapping.partner_id
        if partner_id is None:
            try:
                partner_id = uuid.UUID(str(claims[mapping.partner_claim]))
            except (KeyError, ValueError) as exc:
                raise Unauthorized("the token names no partner") from exc
        if mapping.role_claim is not None:
            roles = _scopes(claims.get(mapping.role_claim))
            scopes = frozenset().union(*(mapping.role_scopes.get(role, ()) for role in roles))
        else:
            scopes = _scopes(claims.get(mapping.scope_claim))
        exp = claims.get("exp")
        return Caller(
            partner_id=partner_id,
            client_id=str(claims.get(mapping.client_claim) or claims["sub"]),
            subject=str(claims["sub"]),
            scopes=scopes,
            token_id=str(claims["jti"]) if "jti" in claims else None,
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            issuer=issuer.issuer,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
