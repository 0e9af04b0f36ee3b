"""Fuzz: schemathesis over the merged OpenAPI, sent through the gateway by a partner holding every
scope of its role. Whatever it is sent, valid or not, the platform never answers with a server
error, and every answer is one the document describes: a documented status, a body of the
documented schema.

Bounded for the suite: a few derandomized cases per operation, drawn from the document's own
examples and generated from its schemas (valid and invalid alike), paced under the gateway's
rate limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode

from tests.e2e.operations import merged_openapi
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e

PARTNER = "fuzz"
# Generated cases per operation (on top of the document's examples): enough for the usual
# suspects (NUL characters, huge numbers, wrong types), few enough for ~130 operations.
EXAMPLES_PER_OPERATION = 8
# The gateway allows a client 50 requests a second: stay under it, so no answer is a 429.
REQUESTS_PER_SECOND = 40
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    # The same cases every run: a failure here is reproduced by running the test again.
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    # Slow only because the platform is busy, or because an invalid case takes a few draws:
    # nothing the API is to blame for.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
async def token(platform: Platform) -> str:
    return await platform.token(PARTNER)


@pytest.fixture(scope="module")
async def merged_schema(platform: Platform, token: str) -> BaseSchema:
    """The gateway's merged document, once it describes every service, to be sent back to the
    gateway as the fuzz partner."""
    async with platform.anonymous() as anonymous:
        document = await merged_openapi(anonymous)
    config = schemathesis.Config.from_dict(
        {
            "base-url": platform.gateway_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "rate-limit": f"{REQUESTS_PER_SECOND}/s",
            "request-timeout": 15,
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
            },
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """The fuzzer's HTTP session: straight to the gateway, whatever proxy the environment names."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def test_no_server_error_and_every_answer_as_documented(
    merged_schema: BaseSchema, session: requests.Session, subtests: pytest.Subtests
) -> None:
    for operation in merged_schema.get_all_operations():
        with subtests.test(msg=operation.ok().label):
            fuzz(operation.ok(), session)


def fuzz(operation: APIOperation, session: requests.Session) -> None:
    """The operation's own examples and generated cases, valid and invalid, each sent and its
    answer checked against the document."""
    cases = st.one_of(
        *operation.get_strategies_from_examples(),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=cases)
    def send(case: Case) -> None:
        case.call_and_validate(session=session)

    send()
