"""Vendor notifications over HTTP: recorded with deadlines, an event and an alert; read, listed,
moved forward along their response clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from partnerguard.monitoring.customers.repository import CustomerRepository
from tests.support.monitoring import RunningMonitoring

URL = "/v1/monitoring/notifications"


def notice(**overrides: Any) -> dict[str, Any]:
    """A valid suspected-fraud notice; override any field."""
    body: dict[str, Any] = {
        "vendor_reference": f"MSFT-{uuid.uuid4().hex[:12]}",
        "kind": "suspected_fraud",
        "vendor_tenant_id": str(uuid.uuid4()),
        "summary": "Unusual sign-ins and purchases on the tenant.",
    }
    body.update(overrides)
    return body


async def record(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, **overrides: Any
) -> dict[str, Any]:
    response = await monitoring.http.post(
        URL, json=notice(**overrides), headers=monitoring.headers(partner_id)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def move(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, notification_id: str, to: str
) -> dict[str, Any]:
    response = await monitoring.http.post(
        f"{URL}/{notification_id}/transitions",
        json={"to": to, "actor": "soc-analyst@partner.example", "note": f"now {to}"},
        headers=monitoring.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def stored_rows(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> dict[str, int]:
    async with monitoring.db.sweep_session() as session:
        counts = {}
        for table in ("notifications", "notification_transitions", "alerts"):
            counts[table] = int(
                await session.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE partner_id = :p"),  # noqa: S608
                    {"p": partner_id},
                )
                or 0
            )
        return counts


async def test_recording_a_notice_sets_its_deadlines_and_answers_it_received(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    in_berlin = received_at.astimezone(timezone(timedelta(hours=2)))
    created = await record(
        monitoring,
        partner_id,
        kind="acceptable_use_violation",
        violation="crypto_mining",
        received_at=in_berlin.isoformat(),
        subscription_ids=[str(uuid.uuid4())],
    )

    assert created["status"] == "received"
    assert created["violation"] == "crypto_mining"
    # The defaults for acceptable-use violations: 1 h, 4 h, 24 h.
    assert at(created["received_at"]) == received_at
    assert at(created["received_at"]).utcoffset() == timedelta(0)
    (event,) = await monitoring.events(partner_id, "monitoring.notification.received")
    assert at(event["data"]["received_at"]) == received_at
    assert at(event["data"]["received_at"]).utcoffset() == timedelta(0)
    assert at(created["review_by"]) == received_at + timedelta(hours=1)
    assert at(created["action_by"]) == received_at + timedelta(hours=4)
    assert at(created["respond_by"]) == received_at + timedelta(hours=24)
    assert created["overdue"] is False
    assert created["overdue_stages"] == []
    assert [h["to_status"] for h in created["history"]] == ["received"]
    assert [s["stage"] for s in created["stages"]] == ["in_review", "actioned", "responded"]
    assert all(s["met"] is None and s["reached_at"] is None for s in created["stages"])


async def test_recording_a_notice_emits_received_with_the_effective_respond_by(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received_at = datetime.now(UTC).replace(microsecond=0)
    vendor_deadline = received_at + timedelta(hours=10)
    created = await record(
        monitoring,
        partner_id,
        received_at=received_at.isoformat(),
        respond_by=vendor_deadline.isoformat(),
    )

    (event,) = await monitoring.events(partner_id, "monitoring.notification.received")
    data = event["data"]
    assert data["notification_id"] == created["id"]
    assert data["vendor_reference"] == created["vendor_reference"]
    assert data["kind"] == "suspected_fraud"
    assert data["violation"] is None
    assert at(data["respond_by"]) == vendor_deadline
    assert event["subject"] == created["id"]


async def test_recording_a_notice_raises_a_vendor_notification_alert_linked_to_it(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(
        monitoring, partner_id, kind="acceptable_use_violation", violation="ddos"
    )

    assert created["alert_id"] is not None
    alert = await monitoring.http.get(
        f"/v1/monitoring/alerts/{created['alert_id']}", headers=monitoring.headers(partner_id)
    )
    assert alert.status_code == 200
    assert alert.json()["kind"] == "vendor_notification"
    assert alert.json()["rule"] == "acceptable_use_violation"
    assert alert.json()["severity"] == "critical"
    assert alert.json()["evidence"]["vendor_reference"] == created["vendor_reference"]
    assert alert.json()["evidence"]["violation"] == "ddos"
    assert alert.json()["evidence"]["notification_id"] == created["id"]
    (raised,) = await monitoring.events(partner_id, "monitoring.alert.raised")
    assert raised["data"]["alert_id"] == created["alert_id"]


async def test_alert_severity_follows_the_notice_kind(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    expected = {
        "suspected_fraud": "high",
        "vendor_enforcement": "high",
        "account_compromise": "critical",
    }
    for kind, severity in expected.items():
        created = await record(monitoring, partner_id, kind=kind)
        alert = await monitoring.http.get(
            f"/v1/monitoring/alerts/{created['alert_id']}",
            headers=monitoring.headers(partner_id),
        )
        assert alert.json()["severity"] == severity, kind


async def test_customer_is_matched_by_vendor_tenant_when_not_given(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer_id, tenant_id = uuid.uuid4(), uuid.uuid4()
    async with monitoring.db.tenant_session(partner_id) as session:
        await CustomerRepository(session).record_approval(
            partner_id,
            customer_id,
            risk_tier="low",
            vendor_tenant_id=tenant_id,
            approved_at=datetime.now(UTC),
        )

    matched = await record(monitoring, partner_id, vendor_tenant_id=str(tenant_id))
    unknown = await record(monitoring, partner_id)

    assert matched["customer_id"] == str(customer_id)
    assert unknown["customer_id"] is None
    events = await monitoring.events(partner_id, "monitoring.notification.received")
    assert [e["data"]["customer_id"] for e in events] == [str(customer_id), None]
    assert events[0]["customerid"] == str(customer_id)


async def test_the_same_vendor_reference_again_answers_the_stored_notice_and_changes_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    body = notice()
    headers = monitoring.headers(partner_id)
    first = await monitoring.http.post(URL, json=body, headers=headers)
    again = await monitoring.http.post(URL, json=body, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["received_at"] == first.json()["received_at"]
    assert len(await monitoring.events(partner_id, "monitoring.notification.received")) == 1
    assert len(await monitoring.events(partner_id, "monitoring.alert.raised")) == 1
    assert await stored_rows(monitoring, partner_id) == {
        "notifications": 1,
        "notification_transitions": 1,
        "alerts": 1,
    }


async def test_the_same_vendor_reference_with_other_content_is_a_conflict(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    body = notice()
    headers = monitoring.headers(partner_id)
    assert (await monitoring.http.post(URL, json=body, headers=headers)).status_code == 201

    changed = await monitoring.http.post(
        URL, json={**body, "summary": "Something else entirely."}, headers=headers
    )

    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert "summary" in changed.json()["detail"]
    assert len(await monitoring.events(partner_id, "monitoring.notification.received")) == 1


async def test_a_compromise_notice_may_date_the_fraud_and_the_event_carries_it(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    body = notice(kind="account_compromise", first_fraudulent_usage_on="2026-10-01")
    headers = monitoring.headers(partner_id)
    created = await monitoring.http.post(URL, json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["first_fraudulent_usage_on"] == "2026-10-01"

    (event,) = await monitoring.events(partner_id, "monitoring.notification.received")
    assert event["data"]["first_fraudulent_usage_on"] == "2026-10-01"
    # The same notice with another date is another notice.
    redated = await monitoring.http.post(
        URL, json={**body, "first_fraudulent_usage_on": "2026-10-02"}, headers=headers
    )
    assert redated.status_code == 409
    assert "first_fraudulent_usage_on" in redated.json()["detail"]


async def test_an_idempotency_key_replays_the_first_answer(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id, **{"Idempotency-Key": "notice-1"})
    body = notice()
    first = await monitoring.http.post(URL, json=body, headers=headers)
    replay = await monitoring.http.post(URL, json=body, headers=headers)
    other = await monitoring.http.post(URL, json=notice(), headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert other.status_code == 422
    assert len(await monitoring.events(partner_id, "monitoring.notification.received")) == 1


async def test_bad_notices_are_problem_json_and_store_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    bad = [
        notice(kind="acceptable_use_violation"),  # violation missing
        notice(kind="suspected_fraud", violation="spam"),  # violation on another kind
        notice(kind="acceptable_use_violation", violation="jaywalking"),
        notice(kind="parking_ticket"),
        notice(vendor_reference=""),
        notice(vendor_reference="x" * 201),
        notice(summary=""),
        notice(summary="x" * 2001),
        notice(vendor_tenant_id="not-a-guid"),
        notice(subscription_ids=["nope"]),
        notice(received_at=future),
        notice(received_at="2026-01-01T00:00:00"),  # no offset
        notice(respond_by=past),  # before the notice was received
        notice(first_fraudulent_usage_on="2026-10-01"),  # dates only a compromise
        notice(
            kind="account_compromise",
            first_fraudulent_usage_on=(datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
        ),  # fraud after the notice
        notice(kind="account_compromise", first_fraudulent_usage_on="1 October"),
        notice(unexpected="field"),
        {"kind": "suspected_fraud"},
    ]
    for body in bad:
        response = await monitoring.http.post(
            URL, json=body, headers=monitoring.headers(partner_id)
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"

    assert await stored_rows(monitoring, partner_id) == {
        "notifications": 0,
        "notification_transitions": 0,
        "alerts": 0,
    }
    assert await monitoring.events(partner_id) == []


async def test_field_problems_name_the_field(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    response = await monitoring.http.post(
        URL, json=notice(vendor_tenant_id="nope"), headers=monitoring.headers(partner_id)
    )
    assert response.status_code == 422
    assert ["body", "vendor_tenant_id"] in [e["loc"] for e in response.json()["errors"]]


async def test_recording_needs_write_scope_and_reading_needs_read_scope(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    read_only = monitoring.headers(partner_id, scopes=["monitoring:read"])
    created = await monitoring.http.post(URL, json=notice(), headers=read_only)
    assert created.status_code == 403
    assert created.headers["content-type"] == "application/problem+json"

    existing = await record(monitoring, partner_id)
    moved = await monitoring.http.post(
        f"{URL}/{existing['id']}/transitions",
        json={"to": "in_review", "actor": "a"},
        headers=read_only,
    )
    assert moved.status_code == 403
    other_service = monitoring.headers(partner_id, scopes=["billing:read"])
    assert (await monitoring.http.get(URL, headers=other_service)).status_code == 403
    got = await monitoring.http.get(f"{URL}/{existing['id']}", headers=other_service)
    assert got.status_code == 403


async def test_another_partners_notice_is_not_found_and_not_listed(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)
    other = monitoring.headers(uuid.uuid4())

    got = await monitoring.http.get(f"{URL}/{created['id']}", headers=other)
    moved = await monitoring.http.post(
        f"{URL}/{created['id']}/transitions", json={"to": "in_review", "actor": "x"}, headers=other
    )
    listed = await monitoring.http.get(URL, headers=other)

    assert got.status_code == 404
    assert got.headers["content-type"] == "application/problem+json"
    assert moved.status_code == 404
    assert listed.json()["items"] == []
    mine = await monitoring.http.get(
        f"{URL}/{created['id']}", headers=monitoring.headers(partner_id)
    )
    assert mine.json()["status"] == "received"


async def test_list_is_newest_first_and_pages(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = [await record(monitoring, partner_id) for _ in range(3)]
    headers = monitoring.headers(partner_id)

    first = await monitoring.http.get(f"{URL}?limit=2", headers=headers)
    second = await monitoring.http.get(
        f"{URL}?limit=2&cursor={first.json()['next_cursor']}", headers=headers
    )

    ids = [n["id"] for n in first.json()["items"] + second.json()["items"]]
    assert ids == [n["id"] for n in reversed(created)]
    assert second.json()["next_cursor"] is None


async def test_list_filters_by_status_kind_customer_and_overdue(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    long_ago = (datetime.now(UTC) - timedelta(hours=6)).isoformat()
    late = await record(monitoring, partner_id, received_at=long_ago)
    compromise = await record(
        monitoring, partner_id, kind="account_compromise", customer_id=str(customer_id)
    )
    reviewed = await record(monitoring, partner_id)
    await move(monitoring, partner_id, reviewed["id"], "in_review")
    headers = monitoring.headers(partner_id)

    async def ids(query: str) -> list[str]:
        response = await monitoring.http.get(f"{URL}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]]

    assert await ids("status=in_review") == [reviewed["id"]]
    assert await ids("status=received") == [compromise["id"], late["id"]]
    assert await ids("kind=account_compromise") == [compromise["id"]]
    assert await ids(f"customer_id={customer_id}") == [compromise["id"]]
    assert await ids("overdue=true") == [late["id"]]
    assert await ids("overdue=false") == [reviewed["id"], compromise["id"]]
    bad = await monitoring.http.get(f"{URL}?status=lost", headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_moves_are_kept_with_who_when_and_why(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)

    await move(monitoring, partner_id, created["id"], "in_review")
    await move(monitoring, partner_id, created["id"], "actioned")
    responded = await move(monitoring, partner_id, created["id"], "responded")

    assert responded["status"] == "responded"
    history = [(h["from_status"], h["to_status"]) for h in responded["history"]]
    assert history == [
        (None, "received"),
        ("received", "in_review"),
        ("in_review", "actioned"),
        ("actioned", "responded"),
    ]
    assert responded["history"][2]["actor"] == "soc-analyst@partner.example"
    assert responded["history"][2]["note"] == "now actioned"
    assert all(stage["met"] is True for stage in responded["stages"])
    got = await monitoring.http.get(
        f"{URL}/{created['id']}", headers=monitoring.headers(partner_id)
    )
    assert got.json()["history"] == responded["history"]


async def test_a_notice_may_skip_forward_and_the_skipped_stage_counts_as_reached(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)

    actioned = await move(monitoring, partner_id, created["id"], "actioned")

    assert actioned["status"] == "actioned"
    stages = {s["stage"]: s for s in actioned["stages"]}
    assert stages["in_review"]["met"] is True
    assert stages["in_review"]["reached_at"] == stages["actioned"]["reached_at"]
    assert stages["responded"]["met"] is None


async def test_moving_back_or_standing_still_is_a_conflict_and_changes_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)
    await move(monitoring, partner_id, created["id"], "actioned")
    headers = monitoring.headers(partner_id)

    for to in ("in_review", "actioned"):
        refused = await monitoring.http.post(
            f"{URL}/{created['id']}/transitions", json={"to": to, "actor": "x"}, headers=headers
        )
        assert refused.status_code == 409, to
        assert refused.headers["content-type"] == "application/problem+json"
    back_to_start = await monitoring.http.post(
        f"{URL}/{created['id']}/transitions", json={"to": "received", "actor": "x"}, headers=headers
    )
    assert back_to_start.status_code == 422

    got = await monitoring.http.get(f"{URL}/{created['id']}", headers=headers)
    assert got.json()["status"] == "actioned"
    assert len(got.json()["history"]) == 2


async def test_bad_moves_are_problem_json(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)
    headers = monitoring.headers(partner_id)
    for body in (
        {"to": "in_review"},
        {"to": "in_review", "actor": ""},
        {"to": "closed", "actor": "x"},
        {"to": "in_review", "actor": "x", "note": "n" * 2001},
        {"to": "in_review", "actor": "x", "extra": 1},
    ):
        response = await monitoring.http.post(
            f"{URL}/{created['id']}/transitions", json=body, headers=headers
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    missing = await monitoring.http.post(
        f"{URL}/{uuid.uuid4()}/transitions", json={"to": "in_review", "actor": "x"}, headers=headers
    )
    assert missing.status_code == 404
    got = await monitoring.http.get(f"{URL}/{created['id']}", headers=headers)
    assert got.json()["status"] == "received"
