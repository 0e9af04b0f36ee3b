"""Sanctions screening: the yente adapter against a fake yente server, and the local one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import ProviderClient, RetryPolicy
from partnerguard.onboarding.adapters.sanctions import (
    LocalSanctionsScreener,
    ScreeningRequest,
    YenteScreener,
)
from partnerguard.onboarding.scoring.facts import SanctionsHit
from tests.support.onboarding_fakes import FakeYente, captured_logs

FAST = RetryPolicy(timeout_seconds=0.2, retries=2, backoff_seconds=0.01)


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


def screening(**changes: str | None) -> ScreeningRequest:
    fields: dict[str, str | None] = {
        "company_name": "Acme GmbH",
        "company_country": "DE",
        "registration_number": "HRB 12345",
        "contact_name": "Ada Lovelace",
        "contact_country": "GB",
    }
    fields.update(changes)
    return ScreeningRequest.model_validate(fields)


@pytest.fixture(scope="module")
def yente() -> Iterator[FakeYente]:
    with FakeYente() as server:
        yield server


@pytest.fixture
async def http(yente: FakeYente) -> AsyncIterator[httpx.AsyncClient]:
    yente.reset()
    async with httpx.AsyncClient() as client:
        yield client


def screener(
    http: httpx.AsyncClient, yente: FakeYente, threshold: float = 0.7, dataset: str = "default"
) -> YenteScreener:
    return YenteScreener(
        ProviderClient(http, "yente", policy=FAST),
        base_url=yente.base_url,
        dataset=dataset,
        threshold=threshold,
    )


async def test_request_follows_the_yente_match_api(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    await screener(http, yente, threshold=0.8).screen(screening())

    [request] = yente.requests
    assert request.path == "/match/default"
    assert request.query == {"threshold": ["0.8"]}
    assert request.body == {
        "queries": {
            "company": {
                "schema": "Company",
                "properties": {
                    "name": ["Acme GmbH"],
                    "country": ["de"],
                    "registrationNumber": ["HRB 12345"],
                },
            },
            "contact": {
                "schema": "Person",
                "properties": {"name": ["Ada Lovelace"], "country": ["gb"]},
            },
        }
    }


async def test_missing_optional_facts_are_left_out_of_the_query(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    await screener(http, yente).screen(screening(registration_number=None, contact_country=None))

    queries = yente.requests[0].body["queries"]
    assert queries["company"]["properties"].keys() == {"name", "country"}
    assert queries["contact"]["properties"] == {"name": ["Ada Lovelace"]}


async def test_no_listed_names_means_no_hits(http: httpx.AsyncClient, yente: FakeYente) -> None:
    yente.list_entity("Someone Else Ltd")

    answer = await screener(http, yente).screen(screening())

    assert answer.hits == ()
    assert answer.raw["responses"]["company"]["results"] == []


async def test_listed_company_and_contact_are_hits_with_their_party(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    yente.list_entity("ACME GMBH", score=0.91, datasets=("eu_fsf", "us_ofac_sdn"))
    yente.list_entity("Ada Lovelace", schema="Person", score=0.88, datasets=("gb_hmt_sanctions",))

    answer = await screener(http, yente).screen(screening())

    assert answer.hits == (
        SanctionsHit(
            party="company", name="ACME GMBH", score=0.91, datasets=("eu_fsf", "us_ofac_sdn")
        ),
        SanctionsHit(
            party="contact", name="Ada Lovelace", score=0.88, datasets=("gb_hmt_sanctions",)
        ),
    )
    assert answer.raw["responses"]["company"]["results"][0]["match"] is True


async def test_a_score_below_the_threshold_is_no_hit(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    yente.list_entity("Acme GmbH", score=0.69)

    answer = await screener(http, yente, threshold=0.7).screen(screening())

    assert answer.hits == ()
    assert len(answer.raw["responses"]["company"]["results"]) == 1


async def test_a_score_at_the_threshold_is_a_hit(http: httpx.AsyncClient, yente: FakeYente) -> None:
    yente.list_entity("Acme GmbH", score=0.7)

    answer = await screener(http, yente, threshold=0.7).screen(screening())

    assert [hit.score for hit in answer.hits] == [0.7]


async def test_a_result_yente_calls_a_match_is_a_hit_whatever_its_score(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    yente.list_entity("Acme GmbH", score=0.4, match=True)

    answer = await screener(http, yente, threshold=0.7).screen(screening())

    assert [(hit.party, hit.score) for hit in answer.hits] == [("company", 0.4)]


async def test_a_high_score_is_a_hit_even_when_yente_says_no_match(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    yente.list_entity("Ada Lovelace", schema="Person", score=0.95, match=False)

    answer = await screener(http, yente, threshold=0.7).screen(screening())

    assert [hit.party for hit in answer.hits] == ["contact"]


async def test_an_unknown_dataset_fails_without_retrying(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    with pytest.raises(AdapterError, match="yente: answered HTTP 404"):
        await screener(http, yente, dataset="nope").screen(screening())

    assert len(yente.requests) == 1


async def test_local_screener_is_not_configured_and_finds_nothing() -> None:
    local = LocalSanctionsScreener()

    answer = await local.screen(screening())

    assert local.configured is False
    assert answer.hits == ()
    assert answer.raw == {"provider": "none"}


async def test_a_blank_contact_name_is_not_screened(
    http: httpx.AsyncClient, yente: FakeYente
) -> None:
    answer = await screener(http, yente).screen(screening(contact_name=" "))

    assert yente.requests[0].body["queries"].keys() == {"company"}
    assert answer.hits == ()


def test_yente_screener_is_configured() -> None:
    assert YenteScreener.configured is True
