"""A business credit report on the company.

Wire protocol of :class:`HttpCreditBureau` (our generic credit-bureau contract)::

    POST {credit_bureau_url}/v1/business-reports
    Authorization: Bearer <credit_bureau_token>      (when a token is configured)
    {"company_name": ..., "country": ..., "registration_number": ... | null,
     "address": {"line1": ..., "postal_code": ..., "city": ..., ...}}

    200 {"id": "<report id>", "decision": "passed" | "failed" | "inconclusive", "score": 0..100?, ...}

The whole answer (score included) is kept in ``ProviderAnswer.raw``; a ``decision`` we do not
know reads as inconclusive.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.common.adapters.http import ProviderClient
from partnerguard.onboarding.adapters.answers import ProviderAnswer, answer_from
from partnerguard.onboarding.scoring.facts import CheckResult


class CreditRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    company_name: str
    country: str = Field(description="ISO 3166-1 alpha-2, upper case.")
    registration_number: str | None = None
    address: dict[str, str] = Field(
        default_factory=dict, description="The company's address as the application gave it."
    )


class CreditBureau(Protocol):
    async def report(self, request: CreditRequest) -> ProviderAnswer:
        """The bureau's decision on the company; AdapterError if it cannot answer."""
        ...


class HttpCreditBureau:
    def __init__(self, client: ProviderClient, *, base_url: str) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/v1/business-reports"

    async def report(self, request: CreditRequest) -> ProviderAnswer:
        raw = await self._client.post_for_object(self._url, request.model_dump(mode="json"))
        return answer_from(self._client.provider, raw, result_key="decision")


class LocalCreditBureau:
    """No credit bureau configured: every report is inconclusive (a person decides)."""

    async def report(self, request: CreditRequest) -> ProviderAnswer:
        return ProviderAnswer(
            provider="local",
            result=CheckResult.INCONCLUSIVE,
            raw={"provider": "local", "note": "no credit bureau configured"},
        )
