"""The notification clock: each stage missed is announced once, on-time notices never are, and
the vendor's earlier deadline wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from partnerguard.monitoring.notifications.jobs import check_overdue
from tests.monitoring.test_notifications import at, move, record
from tests.support.monitoring import RunningMonitoring

OVERDUE = "monitoring.notification.overdue"


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


async def overdue_events(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> list[Any]:
    return [e["data"] for e in await monitoring.events(partner_id, OVERDUE)]


async def test_each_stage_missed_is_announced_once_as_its_deadline_passes(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    # Suspected fraud by default: in review within 4 h, actioned within 24 h, answered within 72 h.
    # Received long enough ago that every deadline has passed by the real clock too.
    received = hours_ago(100)
    created = await record(monitoring, partner_id, received_at=received.isoformat())
    db = monitoring.db

    assert await check_overdue(db, received + timedelta(hours=3)) == 0
    assert await check_overdue(db, received + timedelta(hours=5)) == 1
    assert await check_overdue(db, received + timedelta(hours=6)) == 0
    assert await check_overdue(db, received + timedelta(hours=25)) == 1
    assert await check_overdue(db, received + timedelta(hours=73)) == 1
    assert await check_overdue(db, received + timedelta(days=30)) == 0

    events = await overdue_events(monitoring, partner_id)
    assert [e["missed_stage"] for e in events] == ["in_review", "actioned", "responded"]
    assert [at(e["due_at"]) for e in events] == [
        received + timedelta(hours=4),
        received + timedelta(hours=24),
        received + timedelta(hours=72),
    ]
    assert all(e["status"] == "received" for e in events)
    assert all(e["notification_id"] == created["id"] for e in events)
    assert all(at(e["respond_by"]) == received + timedelta(hours=72) for e in events)
    got = await monitoring.http.get(
        f"/v1/monitoring/notifications/{created['id']}", headers=monitoring.headers(partner_id)
    )
    assert got.json()["overdue_stages"] == ["in_review", "actioned", "responded"]
    assert all(s["announced_overdue"] and s["met"] is False for s in got.json()["stages"])


async def test_every_stage_past_due_is_announced_in_one_check(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received = hours_ago(30)
    await record(monitoring, partner_id, received_at=received.isoformat())

    assert await check_overdue(monitoring.db, datetime.now(UTC)) == 2
    assert await check_overdue(monitoring.db, datetime.now(UTC)) == 0

    events = await overdue_events(monitoring, partner_id)
    assert [e["missed_stage"] for e in events] == ["in_review", "actioned"]


async def test_a_notice_handled_in_time_is_never_overdue(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id)
    await move(monitoring, partner_id, created["id"], "in_review")
    await move(monitoring, partner_id, created["id"], "actioned")
    responded = await move(monitoring, partner_id, created["id"], "responded")

    assert await check_overdue(monitoring.db, datetime.now(UTC) + timedelta(days=365)) == 0

    assert await overdue_events(monitoring, partner_id) == []
    assert all(s["met"] is True for s in responded["stages"])


async def test_a_stage_reached_late_is_not_announced_again_and_later_stages_keep_their_deadlines(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received = hours_ago(5)
    created = await record(monitoring, partner_id, received_at=received.isoformat())
    assert await check_overdue(monitoring.db, datetime.now(UTC)) == 1

    reviewed = await move(monitoring, partner_id, created["id"], "in_review")

    stages = {s["stage"]: s for s in reviewed["stages"]}
    assert stages["in_review"]["met"] is False
    assert stages["in_review"]["reached_at"] is not None
    assert reviewed["overdue"] is False
    assert await check_overdue(monitoring.db, datetime.now(UTC) + timedelta(minutes=1)) == 0
    assert await check_overdue(monitoring.db, received + timedelta(hours=25)) == 1
    events = await overdue_events(monitoring, partner_id)
    assert [(e["missed_stage"], e["status"]) for e in events] == [
        ("in_review", "received"),
        ("actioned", "in_review"),
    ]


async def test_a_stage_reached_late_before_any_check_is_not_announced(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    created = await record(monitoring, partner_id, received_at=hours_ago(5).isoformat())
    await move(monitoring, partner_id, created["id"], "in_review")

    assert await check_overdue(monitoring.db, datetime.now(UTC)) == 0

    got = await monitoring.http.get(
        f"/v1/monitoring/notifications/{created['id']}", headers=monitoring.headers(partner_id)
    )
    in_review = next(s for s in got.json()["stages"] if s["stage"] == "in_review")
    assert in_review["met"] is False
    assert in_review["announced_overdue"] is False


async def test_the_vendors_earlier_deadline_wins_for_the_response(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received = hours_ago(1)
    vendor_deadline = received + timedelta(hours=10)
    created = await record(
        monitoring,
        partner_id,
        received_at=received.isoformat(),
        respond_by=vendor_deadline.isoformat(),
    )
    assert at(created["respond_by"]) == vendor_deadline

    assert await check_overdue(monitoring.db, received + timedelta(hours=11)) == 2

    events = await overdue_events(monitoring, partner_id)
    assert [e["missed_stage"] for e in events] == ["in_review", "responded"]
    assert at(events[1]["due_at"]) == vendor_deadline
    assert await check_overdue(monitoring.db, received + timedelta(hours=25)) == 1


async def test_a_later_vendor_deadline_leaves_the_configured_one(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    received = hours_ago(1)
    created = await record(
        monitoring,
        partner_id,
        received_at=received.isoformat(),
        respond_by=(received + timedelta(days=30)).isoformat(),
    )

    assert at(created["respond_by"]) == received + timedelta(hours=72)
    (event,) = await monitoring.events(partner_id, "monitoring.notification.received")
    assert at(event["data"]["respond_by"]) == received + timedelta(hours=72)


async def test_the_partners_configured_deadlines_apply(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    saved = await monitoring.http.put(
        "/v1/monitoring/detectors",
        json={
            "config": {
                "notifications": {
                    "default": {"review_hours": 2, "action_hours": 8, "respond_hours": 48}
                }
            }
        },
        headers=monitoring.headers(partner_id),
    )
    assert saved.status_code == 200, saved.text
    received = hours_ago(1)

    created = await record(monitoring, partner_id, received_at=received.isoformat())

    assert at(created["review_by"]) == received + timedelta(hours=2)
    assert at(created["action_by"]) == received + timedelta(hours=8)
    assert at(created["respond_by"]) == received + timedelta(hours=48)
    assert await check_overdue(monitoring.db, received + timedelta(hours=3)) == 1


async def test_one_check_covers_every_partner(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    received = hours_ago(5)
    await record(monitoring, partner_id, received_at=received.isoformat())
    await record(monitoring, other, received_at=received.isoformat())

    assert await check_overdue(monitoring.db, datetime.now(UTC), batch=1) == 2

    assert len(await overdue_events(monitoring, partner_id)) == 1
    assert len(await overdue_events(monitoring, other)) == 1
