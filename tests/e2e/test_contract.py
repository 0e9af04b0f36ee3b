"""The contract at the edge, as partners meet it through the gateway: the merged OpenAPI says of
each operation what the owning service says of it, and input that no database column can hold
(a NUL character, a number beyond the column's range) is bad input, a 422 problem, never a 500.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from partnerguard.gateway.roles import SERVICES
from tests.e2e.operations import merged_openapi
from tests.e2e.platform import Platform
from tests.e2e.views import get

pytestmark = pytest.mark.e2e

PARTNER = "contract"
PROBLEM_JSON = "application/problem+json"
_METHODS = ("get", "put", "post", "patch", "delete")

# Requests a partner system could send by mistake, one per service and place in the request.
BAD_INPUT = [
    ("GET", "/v1/onboarding/customers", {"params": {"email_domain": "evil\x00.example"}}),
    ("GET", "/v1/onboarding/collections-policy/versions/v1%00", {}),
    ("GET", "/v1/onboarding/risk-policy/versions", {"params": {"before_version": 10**20}}),
    ("GET", "/v1/monitoring/activity-logs", {"params": {"actor": "\x00"}}),
    (
        "POST",
        "/v1/billing/accounts",
        {
            "json": {
                "customer_id": "0190c8a4-9b8e-7000-8000-000000000001",
                "currency": "EUR",
                "country": "DE",
                "credit_limit": 10**30,
            }
        },
    ),
    ("GET", "/v1/enforcement/policies/versions/160164667730051923968", {}),
    (
        "POST",
        "/v1/webhooks",
        {
            "json": {
                "url": "https://erp.example/hooks",
                "event_types": ["billing.customer.delinquent"],
                "description": "\x00",
            }
        },
    ),
]


def resolved(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by what it names: comparable across documents
    whatever the names (the merged one renames what clashes)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {"$recursive": True}
            target = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
            return resolved(target, document, (*seen, ref))
        # Titles name the schema, which the merge may have renamed.
        return {k: resolved(v, document, seen) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [resolved(item, document, seen) for item in node]
    return node


async def test_the_merged_document_says_what_each_service_says(platform: Platform) -> None:
    async with platform.anonymous() as gateway:
        merged = await merged_openapi(gateway)
    differing = []
    async with httpx.AsyncClient(trust_env=False) as http:
        for service in SERVICES:
            own = await get(http, f"{platform.ports.url(service)}/openapi.json")
            for path, item in own["paths"].items():
                for method, theirs in item.items():
                    if method not in _METHODS:
                        continue
                    ours = merged["paths"][path][method]
                    for part in ("parameters", "requestBody"):
                        if resolved(theirs.get(part), own) != resolved(ours.get(part), merged):
                            differing.append(f"{method.upper()} {path} {part}")
                    for status, response in theirs["responses"].items():
                        if resolved(response, own) != resolved(ours["responses"][status], merged):
                            differing.append(f"{method.upper()} {path} {status}")
    assert differing == []


@pytest.mark.parametrize(("method", "path", "request_"), BAD_INPUT)
async def test_input_no_column_can_hold_is_a_422(
    platform: Platform, method: str, path: str, request_: dict[str, Any]
) -> None:
    async with platform.client(PARTNER) as partner:
        response = await partner.request(method, path, **request_)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["errors"], response.text
