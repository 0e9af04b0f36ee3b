"""Screening the company and its contact person against sanctions and watch lists.

:class:`YenteScreener` speaks the matching API of an OpenSanctions yente server
(https://github.com/opensanctions/yente, ``POST /match/{dataset}``)::

    POST {sanctions_url}/match/{sanctions_dataset}?threshold=<sanctions_match_threshold>
    {"queries": {
        "company": {"schema": "Company", "properties": {
            "name": [...], "country": ["de"], "registrationNumber": [...]}},
        "contact": {"schema": "Person", "properties": {"name": [...], "country": [...]}}}}

    200 {"responses": {
        "company": {"status": 200, "results": [
            {"id": ..., "caption": ..., "schema": ..., "score": 0.93, "match": true,
             "datasets": ["us_ofac_sdn", ...], ...}], "total": {...}, "query": {...}},
        "contact": {...}}, "limit": ..., ...}

yente sets ``match`` when the score reaches the ``threshold`` we pass; we count a result as a
hit when ``match`` is true or its score reaches our threshold, so the verdict holds even if the
server scores against another threshold.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import ProviderClient
from partnerguard.onboarding.scoring.facts import SanctionsHit


class ScreeningRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    company_name: str
    company_country: str = Field(description="ISO 3166-1 alpha-2, any case.")
    registration_number: str | None = None
    contact_name: str
    contact_country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")


class ScreeningAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    hits: tuple[SanctionsHit, ...] = ()
    raw: dict[str, Any] = Field(default_factory=dict, description="The provider's JSON answer.")


class SanctionsScreener(Protocol):
    @property
    def configured(self) -> bool:
        """False when no screening service is set up: the service then skips screening."""
        ...

    async def screen(self, request: ScreeningRequest) -> ScreeningAnswer:
        """Hits for the company and the contact; AdapterError if the screener cannot answer."""
        ...


def match_queries(request: ScreeningRequest) -> dict[str, Any]:
    """The yente ``queries`` object for one request: one example entity per party named."""
    company: dict[str, list[str]] = {
        "name": [request.company_name],
        "country": [request.company_country.lower()],
    }
    if request.registration_number:
        company["registrationNumber"] = [request.registration_number]
    queries: dict[str, Any] = {"company": {"schema": "Company", "properties": company}}
    if request.contact_name.strip():
        contact: dict[str, list[str]] = {"name": [request.contact_name]}
        if request.contact_country:
            contact["country"] = [request.contact_country.lower()]
        queries["contact"] = {"schema": "Person", "properties": contact}
    return queries


class YenteScreener:
    configured = True

    def __init__(
        self, client: ProviderClient, *, base_url: str, dataset: str, threshold: float
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/match/{dataset}"
        self._threshold = threshold

    async def screen(self, request: ScreeningRequest) -> ScreeningAnswer:
        queries = match_queries(request)
        raw = await self._client.post_for_object(
            self._url, {"queries": queries}, params={"threshold": str(self._threshold)}
        )
        responses = raw.get("responses")
        if not isinstance(responses, dict):
            raise AdapterError(self._client.provider, "answer has no responses")
        hits: list[SanctionsHit] = []
        for party in queries:
            response = responses.get(party)
            if not isinstance(response, dict) or not isinstance(response.get("results"), list):
                raise AdapterError(self._client.provider, f"answer has no results for {party}")
            hits.extend(self._hits(party, response["results"]))
        return ScreeningAnswer(hits=tuple(hits), raw=raw)

    def _hits(self, party: str, results: list[Any]) -> list[SanctionsHit]:
        hits = []
        for result in results:
            if not isinstance(result, dict):
                continue
            score = result.get("score")
            score = min(max(float(score), 0.0), 1.0) if isinstance(score, int | float) else 0.0
            if result.get("match") is True or score >= self._threshold:
                datasets = result.get("datasets")
                hits.append(
                    SanctionsHit(
                        party=party,
                        name=str(result.get("caption") or result.get("id") or "unknown"),
                        score=score,
                        datasets=tuple(str(d) for d in datasets)
                        if isinstance(datasets, list)
                        else (),
                    )
                )
        return hits


class LocalSanctionsScreener:
    """No screening service configured: no hits, and ``configured`` says so."""

    configured = False

    async def screen(self, request: ScreeningRequest) -> ScreeningAnswer:
        return ScreeningAnswer(hits=(), raw={"provider": "none"})
