"""Isolation, over every operation the gateway's merged OpenAPI describes: another partner's token
gets a 404 for each of a partner's objects, as for an object that does not exist, and finds none
of them in its lists; a token without an operation's scope gets a 403 and no token a 401. A
refused write changes nothing the partner can read.

The operations come from the document, not from a list kept here: a new route is covered as soon
as the gateway describes it, and the tables below fail loudly when they cannot say what a new
route needs (whose object a path parameter names, a valid body for a write on an object).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from partnerguard.gateway.roles import ROLE_SCOPES, Role
from tests.e2e.estate import Estate, build_estate
from tests.e2e.operations import Operation, merged_openapi, operations
from tests.e2e.pacing import Pace, paced_client
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e

OWNER = "isolation-owner"
OTHER = "isolation-other"
PARTNERS = (OWNER, OTHER)

PARTNER_SCOPES = ROLE_SCOPES[Role.GLOBAL_ADMIN]
PROBLEM_JSON = "application/problem+json"
ACTOR = "mallory@other.example"

# The operations that need no token: the OAuth endpoints and their metadata. Any other operation
# without a ``security`` requirement is a hole.
PUBLIC = {
    "POST /oauth/token",
    "POST /oauth/revoke",
    "GET /.well-known/jwks.json",
    "GET /.well-known/oauth-authorization-server",
}

# Whose object a path parameter names: the path up to the parameter -> the kind in the estate.
OBJECTS = {
    "/v1/partners/{partner_id}": "partner",
    "/v1/clients/{id}": "client",
    "/v1/webhooks/{id}": "webhook",
    "/v1/billing/accounts/{account_id}": "account",
    "/v1/billing/accounts/{account_id}/instruments/{instrument_id}": "instrument",
    "/v1/billing/bin-ranges/{bin_range_id}": "bin_range",
    "/v1/billing/invoices/{invoice_id}": "invoice",
    "/v1/billing/payments/{payment_id}": "payment",
    "/v1/billing/dunning/runs/{run_id}": "dunning_run",
    "/v1/enforcement/customers/{customer_id}": "customer",
    "/v1/enforcement/holds/{hold_id}": "hold",
    "/v1/enforcement/policies/versions/{version}": "enforcement_policy_version",
    "/v1/enforcement/approvals/{approval_id}": "approval",
    "/v1/enforcement/cases/{case_id}": "case",
    "/v1/monitoring/customers/{customer_id}": "customer",
    "/v1/monitoring/alerts/{alert_id}": "alert",
    "/v1/monitoring/notifications/{notification_id}": "notification",
    "/v1/onboarding/customers/{customer_id}": "customer",
    "/v1/onboarding/customers/{customer_id}/verifications/{verification_id}": "verification",
    "/v1/onboarding/lists/entries/{entry_id}": "list_entry",
    "/v1/onboarding/collections-policy/versions/{version}": "collections_policy_version",
}

# Query parameters that name an object: lists filtered by the partner's ids show another
# partner nothing. Every ``*_id`` filter must be here.
FILTERS = {
    "customer_id": "customer",
    "account_id": "account",
    "invoice_id": "invoice",
    "run_id": "dunning_run",
    "subscription_id": "subscription",
    "vendor_tenant_id": "tenant",
    "subject_id": "case",
    "email_domain": "domain",
}


# A monthly budget is set under a customer id the caller names, whether or not monitoring has
# heard of the customer yet (the approval may still be on its way): another partner naming the
# owner's customer sets, reads and removes a budget of its own, never the owner's.
KEYED_BY_CALLER = {"/v1/monitoring/customers/{customer_id}/budget"}


def queries(operation: Operation) -> dict[str, str]:
    """The query parameters an operation requires, with valid values."""
    today = datetime.now(UTC).date()
    known = {
        "GET /v1/monitoring/customers/{customer_id}/spend": {
            "from": (today - timedelta(days=7)).isoformat(),
            "to": today.isoformat(),
        },
        "DELETE /v1/onboarding/customers/{customer_id}/claim": {"reviewer": ACTOR},
    }
    query = known.get(operation.key, {})
    missing = set(operation.required_query) - query.keys()
    assert not missing, f"{operation.key}: no value for the query's {missing}. Add it to queries()."
    return query


def bodies(estate: Estate) -> dict[str, dict[str, Any]]:
    """A valid body for every write on an object that needs one: a refusal must be for who asks,
    never for what was sent."""
    note = {"note": "sent by the wrong partner"}
    reason = {"reason": "sent by the wrong partner"}
    last_week = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    return {
        "PATCH /v1/webhooks/{id}": {"description": "taken over"},
        "PATCH /v1/billing/accounts/{account_id}": {"billing_email": "mallory@other.example"},
        "POST /v1/billing/accounts/{account_id}/instruments": {"type": "bank_transfer"},
        "POST /v1/billing/invoices/{invoice_id}/credit-notes": {"amount": 100} | reason,
        "POST /v1/billing/invoices/{invoice_id}/void": reason,
        "POST /v1/billing/invoices/{invoice_id}/write-off": reason,
        "POST /v1/billing/invoices/{invoice_id}/dispute": reason,
        "POST /v1/billing/payments/{payment_id}/reverse": {"reason": "chargeback"},
        "POST /v1/enforcement/customers/{customer_id}/subscriptions": {
            "subscription_id": "0190c8a4-9b8e-7000-8000-000000000001",
            "commerce": "new_commerce",
        },
        "POST /v1/enforcement/holds/{hold_id}/release": note,
        "POST /v1/enforcement/approvals/{approval_id}/approve": note,
        "POST /v1/enforcement/approvals/{approval_id}/reject": note,
        "POST /v1/enforcement/cases/{case_id}/entries": {"kind": "note"} | note,
        "POST /v1/enforcement/cases/{case_id}/fraud-window": {
            "first_fraudulent_usage_on": last_week
        },
        "POST /v1/enforcement/cases/{case_id}/credit-request": {
            "subscription_ids": [estate.ids["subscription"]]
        },
        "POST /v1/enforcement/cases/{case_id}/close": {"outcome": "resolved_without_credit"},
        "PUT /v1/monitoring/customers/{customer_id}/budget": {"amount": "1", "currency": "EUR"},
        "POST /v1/monitoring/alerts/{alert_id}/acknowledge": {"actor": ACTOR},
        "POST /v1/monitoring/alerts/{alert_id}/resolve": {
            "resolution": "false_positive",
            "actor": ACTOR,
        },
        "POST /v1/monitoring/notifications/{notification_id}/transitions": {
            "to": "in_review",
            "actor": ACTOR,
        },
        "POST /v1/onboarding/customers/{customer_id}/collections-acceptance": {
            "policy_version": estate.ids["collections_policy_version"],
            "accepted_by": ACTOR,
            "ip_address": "203.0.113.66",
        },
        "POST /v1/onboarding/customers/{customer_id}/verifications": {"channel": "sms"},
        "POST /v1/onboarding/customers/{customer_id}/verifications/{verification_id}/confirm": {
            "code": "123456"
        },
        "POST /v1/onboarding/customers/{customer_id}/mfa-attestation": {
            "enforced": True,
            "attested_by": ACTOR,
        },
        "POST /v1/onboarding/customers/{customer_id}/phone-contact": {
            "confirmed": True,
            "staff": ACTOR,
        },
        "POST /v1/onboarding/customers/{customer_id}/claim": {"reviewer": ACTOR},
        "POST /v1/onboarding/customers/{customer_id}/decision": {
            "reviewer": ACTOR,
            "decision": "approve",
        }
        | note,
    }


# -- what the document says ------------------------------------------------------------------


def is_operator(operation: Operation) -> bool:
    """Partners' own administration (``platform:*``): no partner's token may call it at all."""
    return operation.scopes is not None and not operation.scopes <= PARTNER_SCOPES


def on_objects(operation: Operation) -> bool:
    return operation.scopes is not None and bool(operation.path_parameters)


def ids_in_path(operation: Operation, ids: dict[str, str]) -> dict[str, str]:
    resources = [operation.resource(p) for p in operation.path_parameters]
    unknown = [r for r in resources if r not in OBJECTS]
    assert not unknown, f"{operation.key}: whose object is {unknown}? Add it to OBJECTS."
    return {resource: ids[OBJECTS[resource]] for resource in resources}


def body_of(operation: Operation, estate: Estate) -> dict[str, Any] | None:
    """The valid body of a write on an object; for a create, an empty one (refused unread)."""
    if not operation.takes_body:
        return None
    known = bodies(estate)
    if operation.key in known:
        return known[operation.key]
    assert not (operation.needs_body and operation.path_parameters), (
        f"{operation.key}: no valid body to send. Add one to bodies()."
    )
    return {} if operation.needs_body else None


async def send(
    client: httpx.AsyncClient,
    operation: Operation,
    estate: Estate,
    at: dict[str, str] | None = None,
) -> httpx.Response:
    """The operation on the estate's objects (or on the objects of ``at``), with a valid body."""
    url = operation.url(ids_in_path(operation, estate.ids if at is None else at))
    body = body_of(operation, estate)
    query = queries(operation)
    if body is None:
        return await client.request(operation.method, url, params=query)
    return await client.request(operation.method, url, params=query, json=body)


def problem(response: httpx.Response, status: int) -> str | None:
    """Why ``response`` is not the problem+json answer of ``status``; None when it is."""
    if response.status_code != status:
        return f"{response.status_code}, not {status}: {response.text[:500]}"
    if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return f"{status} as {response.headers.get('content-type')}, not {PROBLEM_JSON}"
    if response.json().get("status") != status:
        return f"a problem of status {response.json().get('status')}, not {status}"
    return None


def answer(response: httpx.Response, operation: Operation, ids: dict[str, str]) -> tuple[Any, ...]:
    """The problem's status, title and detail, the ids the caller sent left out (echoing them
    back tells the caller nothing it did not know)."""
    body = response.json()
    said = (body.get("title"), body.get("detail"))
    for sent in ids_in_path(operation, ids).values():
        said = tuple(text.replace(sent, "{id}") if text else text for text in said)
    return response.status_code, *said


Readings = dict[str, tuple[int, Any]]


async def readings(client: httpx.AsyncClient, reads: list[Operation], estate: Estate) -> Readings:
    """Everything the partner reads about its estate, by URL."""
    seen: Readings = {}
    for operation in reads:
        response = await send(client, operation, estate)
        seen[response.request.url.path] = (response.status_code, response.json())
    return seen


def changed(before: Readings, after: Readings) -> list[str]:
    return [
        f"{url}:\n  before {before[url]}\n  after  {after[url]}"
        for url in before
        if before[url] != after[url]
    ]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def document(platform: Platform) -> dict[str, Any]:
    async with platform.anonymous() as anonymous:
        return await merged_openapi(anonymous)


@pytest.fixture(scope="module")
def every_operation(document: dict[str, Any]) -> list[Operation]:
    return operations(document)


@pytest.fixture(scope="module")
def paces() -> dict[str, Pace]:
    return {partner: Pace() for partner in PARTNERS}


@pytest.fixture(scope="module")
async def owner(platform: Platform, paces: dict[str, Pace]) -> AsyncIterator[httpx.AsyncClient]:
    async with paced_client(platform, OWNER, paces[OWNER]) as client:
        yield client


@pytest.fixture(scope="module")
async def estate(platform: Platform, owner: httpx.AsyncClient) -> Estate:
    partner = await platform.partner(OWNER)
    return await build_estate(owner, platform.outside, OWNER, str(partner.partner_id))


@pytest.fixture(scope="module")
def own_reads(every_operation: list[Operation]) -> list[Operation]:
    """What the owner can read of its estate: every read a partner may call."""
    return [
        op for op in every_operation if op.reads and op.scopes is not None and not is_operator(op)
    ]


# -- tests -----------------------------------------------------------------------------------


def test_every_operation_is_public_or_scoped_and_its_ids_are_known(
    every_operation: list[Operation],
) -> None:
    public = {op.key for op in every_operation if op.scopes is None}
    assert public == PUBLIC, "operations without a security requirement"
    unscoped = [op.key for op in every_operation if op.scopes == frozenset()]
    assert unscoped == [], "operations that require a token but no scope"
    resources = {
        op.resource(p) for op in every_operation if on_objects(op) for p in op.path_parameters
    }
    assert resources - OBJECTS.keys() == set(), "path parameters naming an unknown kind of object"
    filters = {q for op in every_operation for q in op.query if q.endswith("_id")}
    assert filters - FILTERS.keys() == set(), "id filters naming an unknown kind of object"


async def test_another_partner_gets_404_for_every_object_and_changes_nothing(
    platform: Platform,
    paces: dict[str, Pace],
    owner: httpx.AsyncClient,
    estate: Estate,
    every_operation: list[Operation],
    own_reads: list[Operation],
    subtests: pytest.Subtests,
) -> None:
    before = await readings(owner, own_reads, estate)
    nowhere = estate.nowhere()
    async with paced_client(platform, OTHER, paces[OTHER]) as other:
        # Every read first: the other partner's own writes (a budget of its own) come after.
        for operation in sorted(filter(on_objects, every_operation), key=lambda op: not op.reads):
            with subtests.test(msg=operation.operation_id):
                response = await send(other, operation, estate)
                if operation.path in KEYED_BY_CALLER:
                    assert response.status_code in (200, 201, 204, 404), response.text
                    assert estate.ids["budget"] not in response.text, (
                        f"{operation.key}: {response.text}"
                    )
                    continue
                if is_operator(operation):
                    # Partners' own administration: closed to every partner, whatever the id.
                    why = problem(response, 403)
                    assert why is None, f"{operation.key}: {why}"
                    continue
                why = problem(response, 404)
                assert why is None, f"{operation.key}: {why}"
                # Word for word what an id that names nothing gets: the 404 tells nothing.
                nothing = await send(other, operation, estate, at=nowhere)
                assert answer(response, operation, estate.ids) == answer(
                    nothing, operation, nowhere
                ), operation.key
    after = await readings(owner, own_reads, estate)
    assert changed(before, after) == []


async def test_another_partners_lists_show_none_of_its_objects(
    platform: Platform,
    paces: dict[str, Pace],
    estate: Estate,
    every_operation: list[Operation],
    subtests: pytest.Subtests,
) -> None:
    collections = [
        op
        for op in every_operation
        if op.reads and op.scopes is not None and not is_operator(op) and not op.path_parameters
    ]
    markers = estate.markers()
    async with paced_client(platform, OTHER, paces[OTHER]) as other:
        for operation in collections:
            # Unfiltered, then filtered by each of the owner's ids the list can be filtered by.
            filters = [{q: estate.ids[FILTERS[q]]} for q in operation.query if q in FILTERS]
            with subtests.test(msg=operation.operation_id):
                for params in [{}, *filters]:
                    response = await other.get(operation.path, params=queries(operation) | params)
                    # 404: the other partner has none (a policy it never published).
                    assert response.status_code in (200, 404), f"{operation.key}: {response.text}"
                    leaked = sorted(m for m in markers if m in response.text)
                    assert leaked == [], f"{operation.key} {params} shows {leaked}"
                    if params and operation.lists and response.status_code == 200:
                        assert response.json()["items"] == [], f"{operation.key} {params}"


async def test_a_token_without_the_operations_scope_gets_403_and_changes_nothing(
    platform: Platform,
    paces: dict[str, Pace],
    owner: httpx.AsyncClient,
    estate: Estate,
    every_operation: list[Operation],
    own_reads: list[Operation],
    subtests: pytest.Subtests,
) -> None:
    before = await readings(owner, own_reads, estate)
    for operation in every_operation:
        if operation.scopes is None:
            continue
        # The owner's own objects, with every other scope its role has.
        lacking = PARTNER_SCOPES - operation.scopes
        async with paced_client(platform, OWNER, paces[OWNER], lacking) as client:
            with subtests.test(msg=operation.operation_id):
                response = await send(client, operation, estate)
                why = problem(response, 403)
                assert why is None, f"{operation.key} without {sorted(operation.scopes)}: {why}"
                # RFC 6750 §3.1: the challenge names the scope to ask for.
                challenge = response.headers.get("www-authenticate", "")
                assert challenge.startswith('Bearer error="insufficient_scope"'), challenge
                assert set(challenge.split('scope="')[1].rstrip('"').split()) == set(
                    operation.scopes
                ), challenge
    after = await readings(owner, own_reads, estate)
    assert changed(before, after) == []


async def test_no_token_gets_401_and_changes_nothing(
    platform: Platform,
    owner: httpx.AsyncClient,
    estate: Estate,
    every_operation: list[Operation],
    own_reads: list[Operation],
    subtests: pytest.Subtests,
) -> None:
    before = await readings(owner, own_reads, estate)
    async with platform.anonymous() as anonymous:
        for operation in every_operation:
            if operation.scopes is None:
                continue
            with subtests.test(msg=operation.operation_id):
                response = await send(anonymous, operation, estate)
                why = problem(response, 401)
                assert why is None, f"{operation.key}: {why}"
                assert response.headers["www-authenticate"].startswith("Bearer")
    after = await readings(owner, own_reads, estate)
    assert changed(before, after) == []
