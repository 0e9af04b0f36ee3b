"""The policies API: defaults, versions, validation, replay, scopes and isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from partnerguard.common.events.types.billing import CustomerDelinquent
from partnerguard.common.events.types.common import Money
from partnerguard.enforcement.models import PolicyVersion
from partnerguard.enforcement.policies.engine import handle_event
from tests.support.enforcement import RunningEnforcement, audit_log

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

STRICT_DELINQUENCY: dict[str, Any] = {
    "name": "late-60",
    "event_type": "billing.customer.delinquent",
    "conditions": {"min_days_overdue": 60},
    "action": {"type": "place_hold", "reason": "nonpayment"},
}
RELEASE: dict[str, Any] = {
    "name": "paid",
    "event_type": "billing.customer.in_good_standing",
    "action": {"type": "release_hold", "reason": "nonpayment"},
}


async def saved_versions(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> int:
    async with enforcement.db.tenant_session(partner_id) as session:
        return len((await session.execute(select(PolicyVersion))).scalars().all())


async def test_defaults_are_version_zero(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    response = await enforcement.http.get(
        "/v1/enforcement/policies", headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 0
    assert body["created_by"] == "system"
    names = {rule["name"] for rule in body["rules"]}
    assert {"delinquency", "payment-brought-current", "acceptable-use-violation"} <= names


async def test_saving_a_policy_makes_a_new_version_in_force(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    headers = enforcement.headers(partner_id)
    first = await enforcement.http.put(
        "/v1/enforcement/policies",
        json={"rules": [STRICT_DELINQUENCY], "note": "wait 60 days"},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    second = await enforcement.http.put(
        "/v1/enforcement/policies", json={"rules": [STRICT_DELINQUENCY, RELEASE]}, headers=headers
    )
    assert second.json()["version"] == 2
    current = (await enforcement.http.get("/v1/enforcement/policies", headers=headers)).json()
    assert current["version"] == 2
    assert [r["name"] for r in current["rules"]] == ["late-60", "paid"]
    versions = (
        await enforcement.http.get("/v1/enforcement/policies/versions", headers=headers)
    ).json()
    assert [v["version"] for v in versions["items"]] == [1, 2]
    assert versions["items"][0]["note"] == "wait 60 days"
    old = await enforcement.http.get("/v1/enforcement/policies/versions/1", headers=headers)
    assert [r["name"] for r in old.json()["rules"]] == ["late-60"]
    defaults = await enforcement.http.get("/v1/enforcement/policies/versions/0", headers=headers)
    assert defaults.json()["version"] == 0
    audit = await audit_log(enforcement.db, partner_id)
    assert [e.action for e in audit] == ["policy.saved", "policy.saved"]


async def test_saved_policy_governs_new_events(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await enforcement.http.put(
        "/v1/enforcement/policies",
        json={"rules": [STRICT_DELINQUENCY]},
        headers=enforcement.headers(partner_id),
    )
    event = delinquent(days=35)
    async with enforcement.db.tenant_session(partner_id) as session:
        decisions = await handle_event(
            session,
            partner_id,
            uuid.uuid4(),
            event.event_type,
            event.model_dump(mode="json"),
            event.customer_id,
            NOW,
            NOW,
        )
    assert decisions == []


async def put_bad(enforcement: RunningEnforcement, partner_id: uuid.UUID, rules: Any) -> None:
    response = await enforcement.http.put(
        "/v1/enforcement/policies", json={"rules": rules}, headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]
    assert await saved_versions(enforcement, partner_id) == 0


async def test_bad_policies_are_refused_and_nothing_is_saved(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await put_bad(enforcement, partner_id, [{**STRICT_DELINQUENCY, "event_type": "nope.x.y"}])
    await put_bad(
        enforcement,
        partner_id,
        [{**STRICT_DELINQUENCY, "conditions": {"min_severity": "critical"}}],
    )
    await put_bad(enforcement, partner_id, [STRICT_DELINQUENCY, STRICT_DELINQUENCY])
    await put_bad(
        enforcement,
        partner_id,
        [{**STRICT_DELINQUENCY, "action": {"type": "place_hold", "reason": "bored"}}],
    )
    await put_bad(enforcement, partner_id, [{**STRICT_DELINQUENCY, "approvals_required": 3}])
    await put_bad(enforcement, partner_id, [{**STRICT_DELINQUENCY, "unknown": True}])
    await put_bad(
        enforcement,
        partner_id,
        [{**RELEASE, "action": {"type": "notify"}, "mode": "approval"}],
    )


async def test_unknown_version_is_404(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    response = await enforcement.http.get(
        "/v1/enforcement/policies/versions/7", headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 404


def delinquent(days: int) -> CustomerDelinquent:
    return CustomerDelinquent(
        customer_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        amount_overdue=Money(amount=10_000, currency="EUR"),
        days_overdue=days,
        oldest_invoice_id=uuid.uuid4(),
        since=date(2026, 9, 1),
    )


async def test_replay_shows_what_a_proposal_would_change_and_saves_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    early, late = delinquent(30), delinquent(90)
    ids = []
    async with enforcement.db.tenant_session(partner_id) as session:
        for event in (early, late):
            event_id = uuid.uuid4()
            ids.append(event_id)
            await handle_event(
                session,
                partner_id,
                event_id,
                event.event_type,
                event.model_dump(mode="json"),
                event.customer_id,
                NOW,
                NOW,
            )
    response = await enforcement.http.post(
        "/v1/enforcement/policies/replay",
        json={"policy": {"rules": [STRICT_DELINQUENCY]}, "since": "2026-01-01T00:00:00Z"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["current_version"] == 0
    assert report["events_replayed"] == 2
    assert (report["current_actions"], report["proposed_actions"]) == (2, 1)
    (change,) = report["changes"]
    assert change["event_id"] == str(ids[0])
    assert change["proposed"] == []
    assert await saved_versions(enforcement, partner_id) == 0


async def test_replay_of_a_bad_policy_is_422(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    response = await enforcement.http.post(
        "/v1/enforcement/policies/replay",
        json={"policy": {"rules": [{"name": "x"}]}, "since": "2026-01-01T00:00:00Z"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 422


async def test_saving_needs_write_scope(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    response = await enforcement.http.put(
        "/v1/enforcement/policies",
        json={"rules": [STRICT_DELINQUENCY]},
        headers=enforcement.headers(partner_id, scopes=["enforcement:read"]),
    )
    assert response.status_code == 403
    assert await saved_versions(enforcement, partner_id) == 0


async def test_another_partners_policy_is_not_seen(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await enforcement.http.put(
        "/v1/enforcement/policies",
        json={"rules": [STRICT_DELINQUENCY]},
        headers=enforcement.headers(partner_id),
    )
    other = enforcement.headers(uuid.uuid4())
    assert (await enforcement.http.get("/v1/enforcement/policies", headers=other)).json()[
        "version"
    ] == 0
    versions = await enforcement.http.get("/v1/enforcement/policies/versions", headers=other)
    assert versions.json()["items"] == []
    one = await enforcement.http.get("/v1/enforcement/policies/versions/1", headers=other)
    assert one.status_code == 404
