"""The dunning sweep on a real database: each step once and in order, pauses, delinquency,
several sweeps at once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from partnerguard.billing.dunning.engine import SweepSummary, run_dunning_sweep
from partnerguard.billing.dunning.policy import DunningPolicy, ScheduledStep, policy_to_stored
from partnerguard.billing.dunning.schemas import RunTrigger
from partnerguard.billing.models import (
    DunningAction,
    DunningNotice,
    DunningPolicyVersion,
    DunningRun,
    InvoiceStatus,
    PaymentStatus,
)
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.billing import DunningStep
from tests.support.billing_data import (
    add_account,
    add_invoice,
    add_payment,
    get_account,
    set_invoice,
    set_payment,
)
from tests.support.events import outbox_events

DUE = date(2026, 3, 2)
STEP_EVENT = "billing.dunning.step_executed"
DELINQUENT = "billing.customer.delinquent"


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


async def sweep(
    db: Database, offset: int, *, partner_id: uuid.UUID | None = None, batch_size: int = 50
) -> SweepSummary:
    return await run_dunning_sweep(
        db, as_of=day(offset), partner_id=partner_id, batch_size=batch_size
    )


async def steps_of(db: Database, invoice_id: uuid.UUID) -> list[str]:
    """The invoice's dunning steps, in the order they were taken."""
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(DunningAction.step)
            .where(DunningAction.invoice_id == invoice_id)
            .order_by(DunningAction.created_at, DunningAction.id)
        )
        return list(rows)


async def notices(db: Database, partner_id: uuid.UUID) -> list[DunningNotice]:
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(DunningNotice)
            .where(DunningNotice.partner_id == partner_id)
            .order_by(DunningNotice.id)
        )
        return list(rows)


async def step_events(db: Database, partner_id: uuid.UUID) -> list[dict[str, Any]]:
    return [e["data"] for e in await outbox_events(db, partner_id, STEP_EVENT)]


async def save_policy(db: Database, partner_id: uuid.UUID, policy: DunningPolicy) -> None:
    async with db.sweep_session() as session:
        session.add(
            DunningPolicyVersion(
                partner_id=partner_id,
                version=1,
                steps=policy_to_stored(policy),
                minimum_amount=policy.minimum_amount,
                created_by="tests",
            )
        )


async def test_each_step_runs_once_and_in_order_as_the_invoice_ages(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoice = await add_invoice(billing_db, account, due_on=DUE, total=12_345)

    expected: list[str] = []
    for offset, step in [(1, "reminder"), (7, "warning"), (14, "final_notice"),
                         (30, "suspension_request"), (60, "termination_request")]:  # fmt: skip
        assert (await sweep(billing_db, offset - 1)).total_steps == 0
        first = await sweep(billing_db, offset)
        again = await sweep(billing_db, offset)
        expected.append(step)
        assert first.steps_executed == {DunningStep(step): 1}
        assert again.total_steps == 0
        assert await steps_of(billing_db, invoice.id) == expected

    events = await step_events(billing_db, partner_id)
    assert [e["step"] for e in events] == expected
    assert [e["days_overdue"] for e in events] == [1, 7, 14, 30, 60]
    assert all(e["invoice_ids"] == [str(invoice.id)] for e in events)
    assert all(e["amount_overdue"] == {"amount": 12_345, "currency": "USD"} for e in events)
    assert [n.step for n in await notices(billing_db, partner_id)] == expected
    assert (await sweep(billing_db, 400)).total_steps == 0


async def test_catch_up_run_executes_every_missed_step_once_in_order(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoice = await add_invoice(billing_db, account, due_on=DUE)

    summary = await sweep(billing_db, 45)

    steps = ["reminder", "warning", "final_notice", "suspension_request"]
    assert await steps_of(billing_db, invoice.id) == steps
    assert summary.total_steps == 4
    assert [e["step"] for e in await step_events(billing_db, partner_id)] == steps
    # Each catch-up step is its own notice, in order.
    assert [n.step for n in await notices(billing_db, partner_id)] == steps
    await sweep(billing_db, 61)
    assert await steps_of(billing_db, invoice.id) == [*steps, "termination_request"]


async def test_an_accounts_invoices_due_together_share_one_event_and_notice(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id, billing_email="ap@acme.example")
    first = await add_invoice(billing_db, account, due_on=DUE, total=1_000)
    second = await add_invoice(billing_db, account, due_on=DUE, total=2_500)

    await sweep(billing_db, 1)

    (event,) = await step_events(billing_db, partner_id)
    assert sorted(event["invoice_ids"]) == sorted([str(first.id), str(second.id)])
    assert event["amount_overdue"] == {"amount": 3_500, "currency": "USD"}
    assert event["account_id"] == str(account.id)
    assert event["customer_id"] == str(account.customer_id)
    (notice,) = await notices(billing_db, partner_id)
    assert notice.status == "pending"
    assert notice.recipient == "ap@acme.example"
    assert notice.amount_overdue == 3_500
    assert sorted(notice.invoice_ids) == sorted([first.id, second.id])


async def test_account_without_billing_email_gets_a_no_recipient_notice(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id, billing_email=None)
    await add_invoice(billing_db, account, due_on=DUE)

    await sweep(billing_db, 1)

    (notice,) = await notices(billing_db, partner_id)
    assert notice.status == "no_recipient"
    assert notice.recipient is None
    assert len(await step_events(billing_db, partner_id)) == 1


async def test_invoices_owing_less_than_the_minimum_are_not_dunned(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    await save_policy(
        billing_db,
        partner_id,
        DunningPolicy((ScheduledStep(DunningStep.REMINDER, 3),), minimum_amount=5_000),
    )
    account = await add_account(billing_db, partner_id)
    small = await add_invoice(billing_db, account, due_on=DUE, total=10_000, paid=5_001)
    exact = await add_invoice(billing_db, account, due_on=DUE, total=10_000, paid=5_000)

    assert (await sweep(billing_db, 2)).total_steps == 0
    await sweep(billing_db, 3)

    assert await steps_of(billing_db, small.id) == []
    assert await steps_of(billing_db, exact.id) == ["reminder"]
    (event,) = await step_events(billing_db, partner_id)
    assert event["amount_overdue"]["amount"] == 5_000


async def test_disputed_invoice_is_skipped_and_dunned_again_once_the_dispute_clears(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    disputed = await add_invoice(billing_db, account, due_on=DUE, disputed=True)
    other = await add_invoice(billing_db, account, due_on=DUE)

    await sweep(billing_db, 8)
    assert await steps_of(billing_db, disputed.id) == []
    assert await steps_of(billing_db, other.id) == ["reminder", "warning"]

    await set_invoice(billing_db, disputed.id, disputed_at=None)
    await sweep(billing_db, 9)
    assert await steps_of(billing_db, disputed.id) == ["reminder", "warning"]


async def test_reported_payment_pauses_the_account_until_it_may_have_posted(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoices = [
        await add_invoice(billing_db, account, due_on=DUE - timedelta(days=d)) for d in (0, 5)
    ]
    other_account = await add_account(billing_db, partner_id)
    other = await add_invoice(billing_db, other_account, due_on=DUE)
    await add_payment(billing_db, account, status=PaymentStatus.REPORTED, expected_by=day(10))

    for offset in (1, 7, 10):
        await sweep(billing_db, offset)
        assert [await steps_of(billing_db, i.id) for i in invoices] == [[], []]
    assert await steps_of(billing_db, other.id) == ["reminder", "warning"]

    await sweep(billing_db, 11)
    assert await steps_of(billing_db, invoices[0].id) == ["reminder", "warning"]
    assert await steps_of(billing_db, invoices[1].id) == ["reminder", "warning", "final_notice"]


async def test_a_posted_or_reversed_payment_does_not_pause_dunning(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoice = await add_invoice(billing_db, account, due_on=DUE)
    payment = await add_payment(
        billing_db, account, status=PaymentStatus.POSTED, expected_by=day(9)
    )
    await sweep(billing_db, 1)
    await set_payment(billing_db, payment.id, status=PaymentStatus.REVERSED.value)
    await sweep(billing_db, 7)
    assert await steps_of(billing_db, invoice.id) == ["reminder", "warning"]


async def test_paid_void_and_uncollectible_invoices_are_never_dunned(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    settled = [
        await add_invoice(billing_db, account, due_on=DUE, paid=10_000, status=InvoiceStatus.PAID),
        await add_invoice(billing_db, account, due_on=DUE, status=InvoiceStatus.VOID),
        await add_invoice(billing_db, account, due_on=DUE, status=InvoiceStatus.UNCOLLECTIBLE),
        # Open, but nothing left to pay.
        await add_invoice(billing_db, account, due_on=DUE, total=100, credited=100),
    ]
    summary = await sweep(billing_db, 90)
    assert summary.total_steps == 0
    for invoice in settled:
        assert await steps_of(billing_db, invoice.id) == []
    assert await step_events(billing_db, partner_id) == []


async def test_invoice_paid_between_steps_gets_no_further_step(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoice = await add_invoice(billing_db, account, due_on=DUE)
    await sweep(billing_db, 1)
    await set_invoice(
        billing_db, invoice.id, paid=10_000, status="paid", settled_at=datetime.now(UTC)
    )
    await sweep(billing_db, 30)
    assert await steps_of(billing_db, invoice.id) == ["reminder"]


async def test_suspension_step_makes_the_account_delinquent_with_amount_and_days(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    oldest = await add_invoice(billing_db, account, due_on=DUE, total=7_000)
    await add_invoice(billing_db, account, due_on=day(10), total=3_000)
    # Not yet due on the day of the sweep: not part of what is overdue.
    await add_invoice(billing_db, account, due_on=day(40), total=99_000)

    summary = await sweep(billing_db, 31)

    assert summary.accounts_made_delinquent == 1
    (event,) = [e["data"] for e in await outbox_events(billing_db, partner_id, DELINQUENT)]
    assert event == {
        "customer_id": str(account.customer_id),
        "account_id": str(account.id),
        "amount_overdue": {"amount": 10_000, "currency": "USD"},
        "days_overdue": 31,
        "oldest_invoice_id": str(oldest.id),
        "since": DUE.isoformat(),
    }
    assert (await get_account(billing_db, account.id)).delinquent_since == DUE
    # The delinquency follows the step that caused it, in the account's event order.
    types = [
        (e["type"], e["data"].get("step")) for e in await outbox_events(billing_db, partner_id)
    ]
    assert types == [
        (STEP_EVENT, "reminder"),
        (STEP_EVENT, "warning"),
        (STEP_EVENT, "final_notice"),
        (STEP_EVENT, "suspension_request"),
        (DELINQUENT, None),
    ]

    # The second invoice reaching suspension later does not announce it again.
    await sweep(billing_db, 41)
    assert len(await outbox_events(billing_db, partner_id, DELINQUENT)) == 1


async def test_an_account_already_delinquent_is_not_announced_again(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id, delinquent_since=DUE - timedelta(days=5))
    await add_invoice(billing_db, account, due_on=DUE)

    summary = await sweep(billing_db, 30)

    assert summary.steps_executed[DunningStep.SUSPENSION_REQUEST] == 1
    assert summary.accounts_made_delinquent == 0
    assert await outbox_events(billing_db, partner_id, DELINQUENT) == []
    assert (await get_account(billing_db, account.id)).delinquent_since == DUE - timedelta(days=5)


async def test_two_sweeps_at_once_never_double_a_step(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    invoices = []
    for n in range(30):
        account = await add_account(billing_db, partner_id)
        for age in (0, 3, 10):
            invoices.append(
                await add_invoice(billing_db, account, due_on=DUE - timedelta(days=age + n % 3))
            )

    first, second = await asyncio.gather(
        sweep(billing_db, 31, batch_size=7), sweep(billing_db, 31, batch_size=7)
    )

    async with billing_db.sweep_session() as session:
        pairs = list(await session.execute(select(DunningAction.invoice_id, DunningAction.step)))
    assert len(pairs) == len(set(pairs))
    assert first.total_steps + second.total_steps == len(pairs)
    # Every invoice is 31+ days overdue: reminder through suspension request, each once.
    assert Counter(step for _, step in pairs) == {
        "reminder": 90, "warning": 90, "final_notice": 90, "suspension_request": 90
    }  # fmt: skip
    announced = Counter(
        (invoice_id, e["step"])
        for e in await step_events(billing_db, partner_id)
        for invoice_id in e["invoice_ids"]
    )
    assert set(announced.values()) == {1}
    assert len(announced) == len(pairs)
    notified = Counter(
        (invoice_id, n.step)
        for n in await notices(billing_db, partner_id)
        for invoice_id in n.invoice_ids
    )
    assert set(notified.values()) == {1}
    assert len(notified) == len(pairs)
    delinquent = [
        e["data"]["account_id"] for e in await outbox_events(billing_db, partner_id, DELINQUENT)
    ]
    assert len(delinquent) == len(set(delinquent)) == 30
    assert first.accounts_made_delinquent + second.accounts_made_delinquent == 30


async def test_each_partner_is_dunned_under_its_own_policy(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    patient = uuid.uuid4()
    await save_policy(billing_db, patient, DunningPolicy((ScheduledStep(DunningStep.WARNING, 5),)))
    strict_invoice = await add_invoice(
        billing_db, await add_account(billing_db, partner_id), due_on=DUE
    )
    patient_invoice = await add_invoice(
        billing_db, await add_account(billing_db, patient), due_on=DUE
    )

    summary = await sweep(billing_db, 2)

    assert await steps_of(billing_db, strict_invoice.id) == ["reminder"]
    assert await steps_of(billing_db, patient_invoice.id) == []
    assert set(summary.runs) == {partner_id, patient}
    await sweep(billing_db, 5)
    assert await steps_of(billing_db, patient_invoice.id) == ["warning"]


async def test_a_partners_run_leaves_other_partners_alone(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    other_partner = uuid.uuid4()
    mine = await add_invoice(billing_db, await add_account(billing_db, partner_id), due_on=DUE)
    theirs = await add_invoice(billing_db, await add_account(billing_db, other_partner), due_on=DUE)

    summary = await sweep(billing_db, 1, partner_id=partner_id)

    assert set(summary.runs) == {partner_id}
    assert await steps_of(billing_db, mine.id) == ["reminder"]
    assert await steps_of(billing_db, theirs.id) == []
    assert await outbox_events(billing_db, other_partner) == []


async def test_runs_are_recorded_per_partner_with_their_steps(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    for _ in range(5):
        await add_invoice(billing_db, account, due_on=DUE)

    summary = await run_dunning_sweep(
        billing_db, as_of=day(7), partner_id=partner_id, trigger=RunTrigger.API,
        requested_by="client-1", batch_size=2,
    )  # fmt: skip

    assert summary.completed
    assert summary.invoices_examined == 5
    assert summary.slices == 3
    async with billing_db.sweep_session() as session:
        run = await session.get(DunningRun, summary.runs[partner_id])
    assert run is not None
    assert (run.as_of, run.trigger, run.requested_by) == (day(7), "api", "client-1")
    assert run.steps_executed == 10
    assert run.finished_at is not None
    assert run.error is None


async def test_a_sweep_asked_to_stop_ends_early_and_the_next_one_carries_on(
    billing_db: Database, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing_db, partner_id)
    invoices = [await add_invoice(billing_db, account, due_on=DUE) for _ in range(4)]
    asked = iter([False, True])

    stopped = await run_dunning_sweep(
        billing_db, as_of=day(1), batch_size=2, should_stop=lambda: next(asked, True)
    )

    assert not stopped.completed
    assert stopped.total_steps == 2
    async with billing_db.sweep_session() as session:
        run = await session.get(DunningRun, stopped.runs[partner_id])
    assert run is not None
    assert run.error is not None
    assert run.finished_at is not None
    resumed = await sweep(billing_db, 1)
    assert resumed.total_steps == 2
    assert [await steps_of(billing_db, i.id) for i in invoices] == [["reminder"]] * 4
