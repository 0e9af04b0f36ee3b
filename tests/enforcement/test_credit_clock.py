"""The credit clock: reminders at 30, 7 and 1 days left, once each, never after filing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.enforcement import CaseKind
from partnerguard.enforcement.cases.jobs import case_jobs, send_credit_reminders
from partnerguard.enforcement.cases.repository import CaseEntryRepository
from partnerguard.enforcement.cases.schemas import CreditRequestIn
from partnerguard.enforcement.cases.service import open_case_from_event, request_credit
from partnerguard.enforcement.models import Case, Subscription
from partnerguard.enforcement.settings import EnforcementSettings
from tests.support.enforcement import audit_log
from tests.support.events import outbox_events

FIRST_USAGE = date(2024, 3, 1)
DEADLINE = date(2024, 4, 30)
REMINDER = "enforcement.credit_request.deadline_near"


async def open_compromise(
    db: Database,
    partner_id: uuid.UUID,
    *,
    first_usage: date | None = FIRST_USAGE,
    kind: CaseKind = CaseKind.ACCOUNT_COMPROMISE,
    verified: bool = True,
) -> Case:
    async with db.tenant_session(partner_id) as session:
        return await open_case_from_event(
            session,
            partner_id,
            kind=kind,
            customer_id=uuid.uuid4(),
            vendor_tenant_id=uuid.uuid4(),
            source_event_id=uuid.uuid4(),
            summary="compromise",
            first_fraudulent_usage_on=first_usage,
            now=datetime(2024, 3, 5, 9, tzinfo=UTC),
            verified=verified,
        )


async def sweep(db: Database, day: date) -> int:
    return await send_credit_reminders(db, day, now=datetime.combine(day, datetime.min.time(), UTC))


async def reminders(db: Database, partner_id: uuid.UUID) -> list[int]:
    return [e["data"]["days_left"] for e in await outbox_events(db, partner_id, REMINDER)]


async def test_reminders_at_30_7_and_1_days_left_each_exactly_once(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    case = await open_compromise(enforcement_db, partner_id)
    sent = []
    for days_left in [31, 30, 30, 29, 8, 7, 7, 6, 2, 1, 1, 0, -1]:
        sent.append(await sweep(enforcement_db, DEADLINE - timedelta(days=days_left)))

    assert sent == [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    events = await outbox_events(enforcement_db, partner_id, REMINDER)
    assert [e["data"]["days_left"] for e in events] == [30, 7, 1]
    assert {e["data"]["case_id"] for e in events} == {str(case.id)}
    assert events[0]["data"]["deadline"] == DEADLINE.isoformat()
    assert events[0]["data"]["first_fraudulent_usage_on"] == FIRST_USAGE.isoformat()
    async with enforcement_db.tenant_session(partner_id) as session:
        stored = await session.get(Case, case.id)
        assert stored is not None
        assert stored.reminders_sent == [30, 7, 1]


async def test_a_clock_that_missed_days_sends_only_the_tightest_reminder(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await open_compromise(enforcement_db, partner_id)
    assert await sweep(enforcement_db, DEADLINE - timedelta(days=5)) == 1
    assert await sweep(enforcement_db, DEADLINE - timedelta(days=4)) == 0
    assert await sweep(enforcement_db, DEADLINE - timedelta(days=1)) == 1
    assert await reminders(enforcement_db, partner_id) == [5, 1]


async def test_no_reminder_once_the_request_is_filed(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    case = await open_compromise(enforcement_db, partner_id)
    assert await sweep(enforcement_db, DEADLINE - timedelta(days=30)) == 1
    subscription_id = uuid.uuid4()
    async with enforcement_db.tenant_session(partner_id) as session:
        session.add(
            Subscription(
                partner_id=partner_id,
                subscription_id=subscription_id,
                customer_id=case.customer_id,
                commerce="new_commerce",
                status="active",
                desired_status="active",
            )
        )
        await session.flush()
        await request_credit(
            session,
            partner_id,
            case.id,
            CreditRequestIn(subscription_ids=[subscription_id]),
            "partner-user",
            datetime.combine(DEADLINE - timedelta(days=20), datetime.min.time(), UTC),
        )
    for days_left in (7, 1):
        assert await sweep(enforcement_db, DEADLINE - timedelta(days=days_left)) == 0
    assert await reminders(enforcement_db, partner_id) == [30]


async def test_ineligible_closed_and_undated_cases_get_no_reminder(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await open_compromise(enforcement_db, partner_id, first_usage=None)
    await open_compromise(enforcement_db, partner_id, verified=False)
    await open_compromise(enforcement_db, partner_id, kind=CaseKind.FRAUD)
    await open_compromise(enforcement_db, partner_id, first_usage=date(2023, 3, 20))
    assert await sweep(enforcement_db, DEADLINE - timedelta(days=7)) == 0
    assert await reminders(enforcement_db, partner_id) == []


async def test_the_clock_serves_every_partner_across_batches(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    for partner in (partner_id, partner_id, other):
        await open_compromise(enforcement_db, partner)
    day = DEADLINE - timedelta(days=7)
    sent = await send_credit_reminders(enforcement_db, day, batch=1)
    assert sent == 3
    assert await reminders(enforcement_db, partner_id) == [7, 7]
    assert await reminders(enforcement_db, other) == [7]


async def test_reminders_are_on_the_timeline_and_audited(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    case = await open_compromise(enforcement_db, partner_id)
    await sweep(enforcement_db, DEADLINE - timedelta(days=30))
    async with enforcement_db.tenant_session(partner_id) as session:
        entries = await CaseEntryRepository(session).timeline(partner_id, case.id)
    last = (await audit_log(enforcement_db, partner_id))[-1]
    assert entries[-1].kind == "reminder"
    assert entries[-1].detail["days_left"] == 30
    assert last.action == "case.credit_reminder_sent"
    assert last.actor == "credit-clock"


def test_case_jobs_run_the_credit_clock_on_one_replica_at_its_interval() -> None:
    settings = EnforcementSettings(credit_clock_interval_seconds=120.0)
    (job,) = case_jobs(settings)
    assert job.name == "credit-clock"
    assert job.interval == 120.0
    assert job.singleton is True
