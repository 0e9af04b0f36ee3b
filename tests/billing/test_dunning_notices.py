"""Dunning notices by e-mail through a real (local) SMTP server: delivered, retried, given up,
shared between senders."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from partnerguard.billing.dunning.engine import run_dunning_sweep
from partnerguard.billing.dunning.jobs import NOTICE_JOB, dunning_jobs
from partnerguard.billing.dunning.notices import format_amount, send_pending_notices
from partnerguard.billing.models import DunningNotice
from partnerguard.common.adapters.email import EmailSender, SmtpSettings, build_email_sender
from partnerguard.common.adapters.http import RetryPolicy
from partnerguard.common.db.engine import Database
from tests.support.billing import RunningBilling
from tests.support.billing_data import add_account, add_invoice
from tests.support.onboarding_fakes import FakeSmtpServer

DUE = date(2026, 3, 2)


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server: FakeSmtpServer) -> FakeSmtpServer:
    smtp_server.reset()
    return smtp_server


@pytest.fixture
def sender(smtp: FakeSmtpServer) -> EmailSender:
    settings = SmtpSettings(smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False)
    return build_email_sender(settings, RetryPolicy(timeout_seconds=5, retries=0))


async def dunned_account(
    db: Database, partner_id: uuid.UUID, email: str | None = "ap@acme.example", days: int = 1
) -> list[str]:
    """An account with two invoices overdue by ``days`` and its notices written; their numbers."""
    account = await add_account(db, partner_id, billing_email=email)
    invoices = [await add_invoice(db, account, due_on=DUE, total=total) for total in (1_000, 2_550)]
    await run_dunning_sweep(db, as_of=DUE + timedelta(days=days), partner_id=partner_id)
    return [invoice.number for invoice in invoices]


async def notices(db: Database, partner_id: uuid.UUID) -> list[DunningNotice]:
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(DunningNotice)
            .where(DunningNotice.partner_id == partner_id)
            .order_by(DunningNotice.id)
        )
        return list(rows)


def test_amounts_are_written_in_the_currencys_own_decimals() -> None:
    assert format_amount(123_456, "USD") == "1234.56 USD"
    assert format_amount(5, "EUR") == "0.05 EUR"
    assert format_amount(1_234, "JPY") == "1234 JPY"
    assert format_amount(1_234, "BHD") == "1.234 BHD"


async def test_pending_notice_is_delivered_as_plain_text_and_marked_sent(
    billing_db: Database, partner_id: uuid.UUID, smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    numbers = await dunned_account(billing_db, partner_id, days=8)

    done = await send_pending_notices(billing_db, sender, batch=10)

    assert (done.claimed, done.sent, done.retrying, done.failed) == (2, 2, 0, 0)
    # Notices go out side by side, so they may arrive in either order.
    reminder, warning = sorted(smtp.to("ap@acme.example"), key=lambda m: m.subject, reverse=True)
    assert reminder.subject == "Payment reminder: 35.50 USD overdue"
    assert warning.subject == "Payment overdue: 35.50 USD overdue"
    for number in numbers:
        assert f"{number}, due 2026-03-02" in reminder.body
    assert "Amount overdue: 35.50 USD" in reminder.body
    assert "Days overdue: 8" in reminder.body
    assert reminder.message.get_content_type() == "text/plain"
    assert [(n.status, n.attempts) for n in await notices(billing_db, partner_id)] == [
        ("sent", 1),
        ("sent", 1),
    ]
    assert all(n.sent_at is not None for n in await notices(billing_db, partner_id))
    again = await send_pending_notices(billing_db, sender, batch=10)
    assert again.claimed == 0
    assert len(smtp.messages) == 2


async def test_notice_refused_for_now_is_kept_and_sent_on_the_next_round(
    billing_db: Database, partner_id: uuid.UUID, smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await dunned_account(billing_db, partner_id)
    smtp.refuse_next(1)

    first = await send_pending_notices(billing_db, sender, max_attempts=3)

    assert (first.sent, first.retrying) == (0, 1)
    (notice,) = await notices(billing_db, partner_id)
    assert (notice.status, notice.attempts) == ("pending", 1)
    assert notice.last_error is not None
    assert "451" in notice.last_error
    assert smtp.messages == []

    # It waits out its backoff: a round straight away leaves it alone.
    assert notice.next_attempt_at is not None
    assert notice.next_attempt_at - datetime.now(UTC) > timedelta(seconds=50)
    too_soon = await send_pending_notices(billing_db, sender, max_attempts=3)
    assert too_soon.claimed == 0
    async with billing_db.sweep_session() as session:
        await session.execute(
            text("UPDATE dunning_notices SET next_attempt_at = now() - interval '1 second'")
        )

    second = await send_pending_notices(billing_db, sender, max_attempts=3)

    assert second.sent == 1
    (notice,) = await notices(billing_db, partner_id)
    assert (notice.status, notice.attempts, notice.last_error) == ("sent", 2, None)
    assert len(smtp.to("ap@acme.example")) == 1


async def test_notice_is_given_up_after_the_allowed_attempts(
    billing_db: Database, partner_id: uuid.UUID, smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await dunned_account(billing_db, partner_id)
    smtp.refuse_next(5, "550 5.1.1 Mailbox unavailable")

    await send_pending_notices(billing_db, sender, max_attempts=2, backoff_seconds=0)
    last = await send_pending_notices(billing_db, sender, max_attempts=2, backoff_seconds=0)
    after = await send_pending_notices(billing_db, sender, max_attempts=2, backoff_seconds=0)

    assert last.failed == 1
    assert after.claimed == 0
    (notice,) = await notices(billing_db, partner_id)
    assert (notice.status, notice.attempts) == ("failed", 2)
    assert notice.last_error is not None
    assert "550" in notice.last_error


async def test_notice_without_recipient_is_never_sent(
    billing_db: Database, partner_id: uuid.UUID, smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await dunned_account(billing_db, partner_id, email=None)

    done = await send_pending_notices(billing_db, sender)

    assert done.claimed == 0
    assert smtp.messages == []
    assert [n.status for n in await notices(billing_db, partner_id)] == ["no_recipient"]


async def test_two_senders_at_once_send_each_notice_once(
    billing_db: Database, partner_id: uuid.UUID, smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    for n in range(12):
        await dunned_account(billing_db, partner_id, email=f"ap{n}@acme.example")

    async def drain() -> int:
        sent = 0
        while (done := await send_pending_notices(billing_db, sender, batch=3)).claimed:
            sent += done.sent
        return sent

    first, second = await asyncio.gather(drain(), drain())

    assert first + second == 12
    assert Counter(m.rcpt_tos for m in smtp.messages) == {
        (f"ap{n}@acme.example",): 1 for n in range(12)
    }
    assert {n.status for n in await notices(billing_db, partner_id)} == {"sent"}


async def test_notice_job_sends_through_the_configured_smtp_server(
    billing: RunningBilling, partner_id: uuid.UUID, smtp: FakeSmtpServer
) -> None:
    await dunned_account(billing.db, partner_id)
    settings = billing.settings.model_copy(
        update={"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False}
    )
    job = {job.name: job for job in dunning_jobs(settings)}[NOTICE_JOB]

    await job.run(billing.runtime)

    assert len(smtp.to("ap@acme.example")) == 1
    listed = await billing.http.get(
        "/v1/billing/dunning/notices", headers=billing.headers(partner_id)
    )
    assert [(n["status"], n["attempts"]) for n in listed.json()["items"]] == [("sent", 1)]
