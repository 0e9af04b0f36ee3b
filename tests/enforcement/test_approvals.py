"""Approvals: one and two approvers, rejection, expiry, scope and isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from partnerguard.common.events.types.monitoring import AlertKind, AlertRaised, Severity
from partnerguard.enforcement.approvals.jobs import approval_jobs
from partnerguard.enforcement.approvals.service import expire_lapsed
from partnerguard.enforcement.models import Hold
from partnerguard.enforcement.policies.engine import handle_event
from tests.support.enforcement import ALL_SCOPES, AUDIENCE, RunningEnforcement, audit_log

TWO_APPROVERS: dict[str, Any] = {
    "name": "mining-two",
    "event_type": "monitoring.alert.raised",
    "conditions": {"alert_kind": "crypto_mining"},
    "action": {"type": "place_hold", "reason": "misuse", "target": "subscriptions"},
    "mode": "approval",
    "approvals_required": 2,
}


def as_client(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, client: str, scopes: Any = ALL_SCOPES
) -> dict[str, str]:
    token = enforcement.issuer.token(
        partner_id, list(scopes), audience=AUDIENCE, claims={"client_id": client, "sub": client}
    )
    return {"Authorization": f"Bearer {token}"}


async def pending_for(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, *, at: datetime | None = None
) -> tuple[str, uuid.UUID, uuid.UUID]:
    """A critical crypto-mining alert handled; the id of the approval it asks for."""
    now = at or datetime.now(UTC)
    customer, subscription = uuid.uuid4(), uuid.uuid4()
    event = AlertRaised(
        alert_id=uuid.uuid4(),
        kind=AlertKind.CRYPTO_MINING,
        severity=Severity.CRITICAL,
        customer_id=customer,
        subscription_ids=(subscription,),
        summary="mining",
        raised_at=now,
    )
    async with enforcement.db.tenant_session(partner_id) as session:
        await handle_event(
            session,
            partner_id,
            uuid.uuid4(),
            event.event_type,
            event.model_dump(mode="json"),
            customer,
            now,
            now,
        )
    listed = await enforcement.http.get(
        "/v1/enforcement/approvals?status=pending", headers=enforcement.headers(partner_id)
    )
    (item,) = [i for i in listed.json()["items"] if i["customer_id"] == str(customer)]
    return item["id"], customer, subscription


async def holds(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> list[Hold]:
    async with enforcement.db.tenant_session(partner_id) as session:
        return list((await session.execute(select(Hold))).scalars().all())


async def audit_actions(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> list[str]:
    return [e.action for e in await audit_log(enforcement.db, partner_id)]


async def test_one_approval_carries_out_the_hold(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    approval_id, customer, subscription = await pending_for(enforcement, partner_id)
    response = await enforcement.http.post(
        f"/v1/enforcement/approvals/{approval_id}/approve",
        json={"note": "confirmed with the customer"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert body["decided_by"] == "client-1"
    assert [a["note"] for a in body["approvals"]] == ["confirmed with the customer"]
    (hold,) = await holds(enforcement, partner_id)
    assert (hold.reason, hold.customer_id, hold.subscription_id) == (
        "misuse",
        customer,
        subscription,
    )
    assert hold.placed_by == "client-1"
    assert "approval.approved" in await audit_actions(enforcement, partner_id)
    again = await enforcement.http.post(
        f"/v1/enforcement/approvals/{approval_id}/approve",
        json={},
        headers=as_client(enforcement, partner_id, "client-2"),
    )
    assert again.status_code == 409


async def test_two_approvers_must_be_different_clients(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    saved = await enforcement.http.put(
        "/v1/enforcement/policies",
        json={"rules": [TWO_APPROVERS]},
        headers=enforcement.headers(partner_id),
    )
    assert saved.status_code == 200
    approval_id, _, _ = await pending_for(enforcement, partner_id)
    url = f"/v1/enforcement/approvals/{approval_id}/approve"
    first = await enforcement.http.post(
        url, json={"note": "one"}, headers=as_client(enforcement, partner_id, "alice")
    )
    assert first.status_code == 200
    assert first.json()["status"] == "pending"
    assert await holds(enforcement, partner_id) == []
    same = await enforcement.http.post(
        url, json={"note": "me again"}, headers=as_client(enforcement, partner_id, "alice")
    )
    assert same.status_code == 409
    assert same.headers["content-type"].startswith("application/problem+json")
    second = await enforcement.http.post(
        url, json={"note": "two"}, headers=as_client(enforcement, partner_id, "bob")
    )
    assert second.status_code == 200
    body = second.json()
    assert body["status"] == "approved"
    assert [a["by"] for a in body["approvals"]] == ["alice", "bob"]
    assert len(await holds(enforcement, partner_id)) == 1
    actions = await audit_actions(enforcement, partner_id)
    assert actions.count("approval.partially_approved") == 1
    assert actions.count("approval.approved") == 1


async def test_rejected_request_carries_out_nothing(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    approval_id, _, _ = await pending_for(enforcement, partner_id)
    response = await enforcement.http.post(
        f"/v1/enforcement/approvals/{approval_id}/reject",
        json={"note": "research workload, known"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_note"] == "research workload, known"
    assert await holds(enforcement, partner_id) == []
    approve = await enforcement.http.post(
        f"/v1/enforcement/approvals/{approval_id}/approve",
        json={},
        headers=enforcement.headers(partner_id),
    )
    assert approve.status_code == 409
    assert "approval.rejected" in await audit_actions(enforcement, partner_id)
    rejected = await enforcement.http.get(
        "/v1/enforcement/approvals?status=rejected", headers=enforcement.headers(partner_id)
    )
    assert [i["id"] for i in rejected.json()["items"]] == [approval_id]


async def test_expired_request_cannot_be_approved_and_is_marked_expired(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=10)
    approval_id, _, _ = await pending_for(enforcement, partner_id, at=long_ago)
    url = f"/v1/enforcement/approvals/{approval_id}/approve"
    response = await enforcement.http.post(url, json={}, headers=enforcement.headers(partner_id))
    assert response.status_code == 409
    assert "expired" in response.json()["detail"]
    assert await expire_lapsed(enforcement.db, datetime.now(UTC)) == 1
    assert await expire_lapsed(enforcement.db, datetime.now(UTC)) == 0
    got = await enforcement.http.get(
        f"/v1/enforcement/approvals/{approval_id}", headers=enforcement.headers(partner_id)
    )
    assert got.json()["status"] == "expired"
    assert await holds(enforcement, partner_id) == []
    assert "approval.expired" in await audit_actions(enforcement, partner_id)


async def test_fresh_request_is_not_expired_by_the_job(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await pending_for(enforcement, partner_id)
    assert await expire_lapsed(enforcement.db, datetime.now(UTC)) == 0


def test_expiry_runs_as_a_singleton_job(enforcement: RunningEnforcement) -> None:
    (job,) = approval_jobs(enforcement.settings)
    assert job.singleton


async def test_deciding_needs_the_approve_scope(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    approval_id, _, _ = await pending_for(enforcement, partner_id)
    headers = enforcement.headers(partner_id, scopes=["enforcement:read", "enforcement:write"])
    for verb in ("approve", "reject"):
        response = await enforcement.http.post(
            f"/v1/enforcement/approvals/{approval_id}/{verb}", json={}, headers=headers
        )
        assert response.status_code == 403
    listed = await enforcement.http.get("/v1/enforcement/approvals", headers=headers)
    assert listed.status_code == 200
    assert [i["status"] for i in listed.json()["items"]] == ["pending"]


async def test_another_partners_request_is_404_and_not_listed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    approval_id, _, _ = await pending_for(enforcement, partner_id)
    other = enforcement.headers(uuid.uuid4())
    for response in (
        await enforcement.http.get(f"/v1/enforcement/approvals/{approval_id}", headers=other),
        await enforcement.http.post(
            f"/v1/enforcement/approvals/{approval_id}/approve", json={}, headers=other
        ),
    ):
        assert response.status_code == 404
    listed = await enforcement.http.get("/v1/enforcement/approvals", headers=other)
    assert listed.json()["items"] == []
    assert await holds(enforcement, partner_id) == []


async def test_bad_status_filter_is_422(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    response = await enforcement.http.get(
        "/v1/enforcement/approvals?status=maybe", headers=enforcement.headers(partner_id)
    )
    assert response.status_code == 422
