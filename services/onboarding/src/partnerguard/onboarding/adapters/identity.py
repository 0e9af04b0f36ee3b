"""Checking that a company and its contact person are who they claim to be.

Wire protocol of :class:`HttpIdentityChecker` (our generic identity-service contract)::

    POST {identity_service_url}/v1/identity-checks
    Authorization: Bearer <identity_service_token>   (when a token is configured)
    {"company_name": ..., "country": ..., "registration_number": ... | null,
     "contact_name": ..., "contact_email": ..., "contact_phone": ...}

    200 {"id": "<the provider's reference>", "result": "passed" | "failed" | "inconclusive", ...}

Any other field of the answer is kept in ``ProviderAnswer.raw`` for audit. A ``result`` we do
not know reads as inconclusive, so a provider's new verdict sends the case to review rather
than passing or failing it.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.common.adapters.http import ProviderClient
from partnerguard.onboarding.adapters.answers import ProviderAnswer, answer_from
from partnerguard.onboarding.scoring.facts import CheckResult

__all__ = [
    "HttpIdentityChecker",
    "IdentityChecker",
    "IdentityRequest",
    "LocalIdentityChecker",
    "ProviderAnswer",
]


class IdentityRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    company_name: str
    country: str = Field(description="ISO 3166-1 alpha-2, upper case.")
    registration_number: str | None = None
    contact_name: str
    contact_email: str
    contact_phone: str = Field(description="E.164.")


class IdentityChecker(Protocol):
    async def check(self, request: IdentityRequest) -> ProviderAnswer:
        """The provider's verdict on the company and contact; AdapterError if it cannot answer."""
        ...


class HttpIdentityChecker:
    def __init__(self, client: ProviderClient, *, base_url: str) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/v1/identity-checks"

    async def check(self, request: IdentityRequest) -> ProviderAnswer:
        raw = await self._client.post_for_object(self._url, request.model_dump(mode="json"))
        return answer_from(self._client.provider, raw, result_key="result")


class LocalIdentityChecker:
    """No identity service configured: every check is inconclusive (a person decides)."""

    async def check(self, request: IdentityRequest) -> ProviderAnswer:
        return ProviderAnswer(
            provider="local",
            result=CheckResult.INCONCLUSIVE,
            raw={"provider": "local", "note": "no identity service configured"},
        )
