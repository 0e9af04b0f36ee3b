"""Dunning notices by e-mail, sent apart from the sweep so a slow mail server never holds a
sweep up, and a refused message is tried again on the next round.

Any number of senders may run at once: each claims pending notices with ``FOR UPDATE SKIP
LOCKED`` and keeps them locked until it has recorded the outcome, so no notice goes out twice
from two senders. A sender that dies mid-batch rolls back, and those notices go again
(at least once).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog
from prometheus_client import Counter

from partnerguard.billing.dunning.repository import DunningNoticeRepository
from partnerguard.billing.dunning.schemas import NoticeStatus
from partnerguard.billing.models import DunningNotice
from partnerguard.billing.money import minor_units
from partnerguard.common.adapters.email import EmailSender
from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.billing import DunningStep

log = structlog.get_logger()

NOTICES = Counter(
    "partnerguard_dunning_notices_total", "Dunning notice send attempts, by outcome", ["outcome"]
)

# However often a mail server refuses, a notice is tried again at least every six hours.
_MAX_BACKOFF_SECONDS = 6 * 3600.0
# Messages in flight at once per sender (each is its own SMTP session).
_CONCURRENCY = 8

_SUBJECTS: dict[DunningStep, str] = {
    DunningStep.REMINDER: "Payment reminder",
    DunningStep.WARNING: "Payment overdue",
    DunningStep.FINAL_NOTICE: "Final notice before suspension",
    DunningStep.SUSPENSION_REQUEST: "Service suspension for non-payment",
    DunningStep.TERMINATION_REQUEST: "Service termination for non-payment",
}

_OPENINGS: dict[DunningStep, str] = {
    DunningStep.REMINDER: "This is a friendly reminder that payment of the invoices below is "
    "overdue.",
    DunningStep.WARNING: "Payment of the invoices below is overdue. Please pay now to avoid "
    "further action.",
    DunningStep.FINAL_NOTICE: "This is the final notice: unless payment of the invoices below "
    "is received, your services will be suspended.",
    DunningStep.SUSPENSION_REQUEST: "Because the invoices below remain unpaid, suspension of "
    "your services has been requested.",
    DunningStep.TERMINATION_REQUEST: "Because the invoices below remain unpaid, termination of "
    "your services has been requested.",
}


@dataclass(frozen=True)
class NoticeRound:
    """What one call of :func:`send_pending_notices` did."""

    claimed: int
    sent: int
    retrying: int
    failed: int


def format_amount(amount: int, currency: str) -> str:
    """``123456`` USD → ``1234.56 USD`` (the currency's own number of decimals)."""
    value = Decimal(amount).scaleb(-minor_units(currency))
    return f"{value:.{minor_units(currency)}f} {currency}"


def render_notice(
    notice: DunningNotice, invoices: dict[uuid.UUID, tuple[str, date]]
) -> tuple[str, str]:
    """Subject and plain-text body of ``notice``."""
    step = DunningStep(notice.step)
    amount = format_amount(notice.amount_overdue, notice.currency)
    lines = [
        "Hello,",
        "",
        _OPENINGS[step],
        "",
        "Overdue invoices:",
    ]
    for invoice_id in notice.invoice_ids:
        number, due_on = invoices.get(invoice_id, (str(invoice_id), None))
        due = f", due {due_on.isoformat()}" if due_on is not None else ""
        lines.append(f"  - {number}{due}")
    lines += [
        "",
        f"Amount overdue: {amount}",
        f"Days overdue: {notice.days_overdue}",
        "",
        "If you have already paid, please disregard this message; payments can take a few "
        "business days to reach us.",
    ]
    subject = f"{_SUBJECTS[step]}: {amount} overdue"
    return subject, "\n".join(lines) + "\n"


async def send_pending_notices(
    db: Database,
    sender: EmailSender,
    *,
    batch: int = 100,
    max_attempts: int = 5,
    backoff_seconds: float = 60.0,
) -> NoticeRound:
    """Send up to ``batch`` pending notices that are due; a refused one waits
    ``backoff_seconds`` doubled per attempt (at most six hours) and stays pending until it has
    been tried ``max_attempts`` times, then it is ``failed`` with the last error."""
    now = datetime.now(UTC)
    async with db.sweep_session() as session:
        repository = DunningNoticeRepository(session)
        claimed = await repository.claim_pending(batch, now)
        if not claimed:
            return NoticeRound(0, 0, 0, 0)
        invoices = await repository.invoice_refs(
            sorted({invoice_id for notice in claimed for invoice_id in notice.invoice_ids})
        )
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def attempt(notice: DunningNotice) -> AdapterError | None:
            subject, body = render_notice(notice, invoices)
            async with gate:
                try:
                    await sender.send(notice.recipient or "", subject, body)
                except AdapterError as exc:
                    return exc
            return None

        outcomes = await asyncio.gather(*(attempt(notice) for notice in claimed))
        return _record(claimed, outcomes, max_attempts, backoff_seconds, datetime.now(UTC))


def _record(
    notices: Sequence[DunningNotice],
    outcomes: Sequence[AdapterError | None],
    max_attempts: int,
    backoff_seconds: float,
    now: datetime,
) -> NoticeRound:
    sent = retrying = failed = 0
    for notice, error in zip(notices, outcomes, strict=True):
        notice.attempts += 1
        if error is None:
            notice.status = NoticeStatus.SENT
            notice.sent_at = now
            notice.last_error = None
            sent += 1
            NOTICES.labels("sent").inc()
            log.info("dunning.notice_sent", notice_id=str(notice.id), step=notice.step)
            continue
        notice.last_error = str(error)[:500]
        if notice.attempts >= max_attempts:
            notice.status = NoticeStatus.FAILED
            failed += 1
            NOTICES.labels("failed").inc()
            log.warning(
                "dunning.notice_failed",
                notice_id=str(notice.id),
                attempts=notice.attempts,
                error=notice.last_error,
            )
        else:
            delay = min(backoff_seconds * 2 ** (notice.attempts - 1), _MAX_BACKOFF_SECONDS)
            notice.next_attempt_at = now + timedelta(seconds=delay)
            retrying += 1
            NOTICES.labels("retrying").inc()
            log.info(
                "dunning.notice_retry",
                notice_id=str(notice.id),
                attempts=notice.attempts,
                error=notice.last_error,
            )
    return NoticeRound(len(notices), sent, retrying, failed)
