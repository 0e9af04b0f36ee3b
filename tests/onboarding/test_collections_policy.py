"""The collections policy: versions published over HTTP, the current one, and the service
functions the application flow calls."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from partnerguard.onboarding.collections.service import current_policy, policy_version
from tests.support.onboarding import RunningOnboarding

POLICY = "/v1/onboarding/collections-policy"
VERSIONS = f"{POLICY}/versions"
PROBLEM_JSON = "application/problem+json"


def policy_body(version: str = "2026-11", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": version,
        "text": "Invoices are due in 30 days. Access is suspended 30 days after the due date.",
        "payment_terms_days": 30,
        "grace_days": 7,
        "suspension_day": 30,
    }
    body.update(overrides)
    return body


async def publish(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await onboarding.http.put(
        POLICY, json=body, headers=onboarding.headers(partner_id, **headers)
    )


async def publish_ok(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, version: str = "2026-11", **terms: Any
) -> dict[str, Any]:
    response = await publish(onboarding, partner_id, policy_body(version, **terms))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def get(onboarding: RunningOnboarding, partner_id: uuid.UUID, path: str) -> httpx.Response:
    return await onboarding.http.get(path, headers=onboarding.headers(partner_id))


async def test_a_published_policy_is_the_current_one(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    published = await publish_ok(onboarding, partner_id)

    current = await get(onboarding, partner_id, POLICY)

    assert published["version"] == "2026-11"
    assert published["text"] == policy_body()["text"]
    assert (published["payment_terms_days"], published["grace_days"]) == (30, 7)
    assert published["suspension_day"] == 30
    assert published["published_by"] == "client-1"
    assert current.status_code == 200
    assert current.json() == published


async def test_there_is_no_current_policy_before_one_is_published(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    response = await get(onboarding, partner_id, POLICY)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/not-found")


async def test_the_latest_version_published_is_current_and_earlier_ones_stay(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    first = await publish_ok(onboarding, partner_id, "2026-11")
    # Version names are the partner's own: "later" means published later, not sorted higher.
    second = await publish_ok(onboarding, partner_id, "2026-03-rev", grace_days=14)

    current = await get(onboarding, partner_id, POLICY)
    old = await get(onboarding, partner_id, f"{VERSIONS}/2026-11")

    assert current.json() == second
    assert old.status_code == 200
    assert old.json() == first


async def test_versions_page_newest_first(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    published = [await publish_ok(onboarding, partner_id, f"v{i}") for i in range(5)]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await onboarding.http.get(
            VERSIONS, params=params, headers=onboarding.headers(partner_id)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [p["version"] for p in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break

    assert seen == [p["version"] for p in reversed(published)]


async def test_an_unknown_version_is_a_404(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await publish_ok(onboarding, partner_id)

    response = await get(onboarding, partner_id, f"{VERSIONS}/2099-01")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_publishing_a_version_name_again_is_a_409_and_keeps_the_original(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    original = await publish_ok(onboarding, partner_id, "2026-11")

    again = await publish(
        onboarding, partner_id, policy_body("2026-11", text="Something else entirely.")
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_JSON
    assert "2026-11" in again.json()["detail"]
    assert (await get(onboarding, partner_id, f"{VERSIONS}/2026-11")).json() == original
    assert len((await get(onboarding, partner_id, VERSIONS)).json()["items"]) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"payment_terms_days": -1}, "payment_terms_days"),
        ({"payment_terms_days": 366}, "payment_terms_days"),
        ({"grace_days": -1}, "grace_days"),
        ({"suspension_day": 0}, "suspension_day"),
        ({"suspension_day": 366}, "suspension_day"),
        ({"version": ""}, "version"),
        ({"version": "v" * 65}, "version"),
        ({"version": "2026/11"}, "version"),
        ({"version": "-2026"}, "version"),
        ({"text": ""}, "text"),
        ({"text": "   \n "}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"published_by": "someone"}, "published_by"),
        ({"payment_terms_days": "thirty"}, "payment_terms_days"),
    ],
)
async def test_bad_terms_are_a_422_naming_the_field_and_nothing_is_published(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, overrides: dict[str, Any], field: str
) -> None:
    response = await publish(onboarding, partner_id, policy_body(**overrides))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert ["body", field] in [error["loc"] for error in response.json()["errors"]]
    assert (await get(onboarding, partner_id, POLICY)).status_code == 404


@pytest.mark.parametrize(("grace_days", "suspension_day"), [(30, 30), (31, 30), (365, 365)])
async def test_suspension_before_the_grace_period_ends_is_a_422(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, grace_days: int, suspension_day: int
) -> None:
    body = policy_body(grace_days=grace_days, suspension_day=suspension_day)

    response = await publish(onboarding, partner_id, body)

    assert response.status_code == 422
    assert "suspension_day" in response.json()["errors"][0]["msg"]
    assert (await get(onboarding, partner_id, POLICY)).status_code == 404


async def test_the_widest_terms_are_accepted(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    published = await publish_ok(
        onboarding,
        partner_id,
        "2026.11_final",
        payment_terms_days=0,
        grace_days=0,
        suspension_day=1,
        text="x" * 20_000,
    )

    assert (published["payment_terms_days"], published["grace_days"]) == (0, 0)
    assert published["suspension_day"] == 1


async def test_another_partners_policy_is_invisible(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    await publish_ok(onboarding, other, "2026-11")

    current = await get(onboarding, partner_id, POLICY)
    version = await get(onboarding, partner_id, f"{VERSIONS}/2026-11")
    versions = await get(onboarding, partner_id, VERSIONS)

    assert current.status_code == 404
    assert version.status_code == 404
    assert versions.json() == {"items": [], "next_cursor": None}
    # Its name is still free for this partner: names are per partner.
    await publish_ok(onboarding, partner_id, "2026-11")


async def test_service_functions_find_the_partners_own_versions(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    await publish_ok(onboarding, partner_id, "2026-11")
    second = await publish_ok(onboarding, partner_id, "2026-12")
    await publish_ok(onboarding, other, "2027-01")

    async with onboarding.db.tenant_session(partner_id) as session:
        current = await current_policy(session, partner_id)
        named = await policy_version(session, partner_id, "2026-11")
        missing = await policy_version(session, partner_id, "2027-01")
    async with onboarding.db.tenant_session(uuid.uuid4()) as session:
        nobody = await current_policy(session, uuid.uuid4())

    assert current is not None
    assert str(current.id) == second["id"]
    assert named is not None
    assert named.version == "2026-11"
    assert missing is None
    assert nobody is None


async def test_an_idempotency_key_replays_the_publication(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    body = policy_body("2026-11")

    first = await publish(onboarding, partner_id, body, **{"Idempotency-Key": "policy-1"})
    again = await publish(onboarding, partner_id, body, **{"Idempotency-Key": "policy-1"})

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


async def test_publishing_needs_the_write_scope_and_reading_the_read_scope(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    read_only = onboarding.headers(partner_id, scopes=("onboarding:read",))
    write_only = onboarding.headers(partner_id, scopes=("onboarding:write",))

    published = await onboarding.http.put(POLICY, json=policy_body(), headers=read_only)
    read = await onboarding.http.get(VERSIONS, headers=write_only)

    assert published.status_code == 403
    assert published.headers["content-type"] == PROBLEM_JSON
    assert read.status_code == 403
    assert (await get(onboarding, partner_id, POLICY)).status_code == 404
