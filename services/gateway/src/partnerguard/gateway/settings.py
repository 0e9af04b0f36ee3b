"""The gateway service's settings, from the environment only."""

from __future__ import annotations

import base64
import uuid

from pydantic import BaseModel, Field, SecretStr, field_validator

from partnerguard.common.settings import ServiceSettings


class ExternalIssuer(BaseModel):
    """An enterprise identity provider whose access tokens the gateway accepts.

    Its tokens name a role in ``role_claim`` (``roles`` in Entra ID); ``role_map`` turns the
    IdP's role names into ours. The partner is fixed (``partner_id``: the IdP belongs to one
    partner) or read from ``partner_claim``.
    """

    issuer: str
    jwks_url: str
    audience: str
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    partner_id: uuid.UUID | None = None
    partner_claim: str = "partner_id"
    role_claim: str = "roles"
    role_map: dict[str, str] = Field(default_factory=dict)
    client_claim: str = "azp"


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    auth_audience: str = "partnerguard:gateway"

    # The gateway's public URL: the ``iss`` of its tokens and the base of its metadata.
    # Defaults to ``auth_issuer``, which the other services are given to trust.
    public_url: str | None = None
    token_lifetime_seconds: int = Field(default=900, ge=60, le=86_400)
    # A signing key is published this long before it signs, so caches have it in time ...
    signing_key_publish_lead_seconds: int = Field(default=3_600, ge=0)
    # ... and signs this long before the next one takes over.
    signing_key_rotation_days: float = Field(default=30.0, gt=0)
    # A rotated client secret keeps working this long beside the new one.
    client_secret_overlap_seconds: int = Field(default=0, ge=0)

    # 32 bytes, base64: seals secrets the gateway must read back (signing keys, webhook
    # secrets). Only hashes are kept of client secrets.
    secrets_key: SecretStr | None = None

    external_issuers: list[ExternalIssuer] = Field(default_factory=list)

    # Where each service listens: {"onboarding": "http://127.0.0.1:8001", ...}
    service_urls: dict[str, str] = Field(
        default_factory=lambda: {
            "onboarding": "http://127.0.0.1:8001",
            "billing": "http://127.0.0.1:8002",
            "monitoring": "http://127.0.0.1:8003",
            "enforcement": "http://127.0.0.1:8004",
        }
    )
    proxy_connect_timeout_seconds: float = 2.0
    proxy_read_timeout_seconds: float = 30.0
    proxy_max_connections: int = 200
    proxy_max_body_bytes: int = 10 * 1024 * 1024
    openapi_refresh_seconds: float = 60.0

    # Per-client token bucket: a sustained rate and the burst it may spend at once.
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)

    revocation_refresh_seconds: float = 1.0
    cors_origins: list[str] = Field(default_factory=list)

    # Webhook deliveries to private, loopback or link-local addresses (development only).
    webhooks_allow_private_urls: bool = False
    webhooks_allow_http: bool = False

    @field_validator("secrets_key")
    @classmethod
    def _thirty_two_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(base64.b64decode(value.get_secret_value())) != 32:
            raise ValueError("SECRETS_KEY must be 32 bytes, base64-encoded")
        return value

    def issuer(self) -> str:
        return (self.public_url or self.auth_issuer).rstrip("/")
