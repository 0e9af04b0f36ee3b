"""The dunning sweep: applies each partner's policy to its open, overdue invoices.

It walks open invoices past due in keyset slices of the open-invoice index (due date, id), one
transaction per slice on the sweep role, so memory stays flat whatever the number of invoices
and a crash loses at most the slice in flight. Per slice it reads the dunnable invoices with
the steps each has had, works out the steps now due (:func:`policy.steps_due`), and inserts
them into ``dunning_actions`` with ``ON CONFLICT (invoice_id, step) DO NOTHING RETURNING``:
only the rows this sweep actually inserted have effects (events, notices, delinquency). That
unique pair is what makes a step happen once per invoice however many sweeps run at once —
a replica's schedule, a partner's on-demand run, a catch-up for a past date.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import structlog
from prometheus_client import Counter as MetricCounter
from sqlalchemy.exc import DBAPIError

from partnerguard.billing.dunning.policy import (
    DEFAULT_POLICY,
    STEP_ORDER,
    DunningPolicy,
    policy_from_stored,
    step_rank,
    steps_due,
)
from partnerguard.billing.dunning.repository import (
    DunnableInvoice,
    DunningPolicyRepository,
    NewAction,
    NewNotice,
    PendingEvent,
    Schedules,
    SweepRepository,
)
from partnerguard.billing.dunning.schemas import NoticeStatus, RunTrigger
from partnerguard.billing.models import DunningRun
from partnerguard.billing.money import money
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.billing import (
    CustomerDelinquent,
    DunningStep,
    DunningStepExecuted,
)
from partnerguard.common.ids import new_id

log = structlog.get_logger()

STEPS_EXECUTED = MetricCounter(
    "partnerguard_dunning_steps_total", "Dunning steps executed, by step", ["step"]
)

# Before the first invoice of any walk.
_START: tuple[date, uuid.UUID] = (date(1, 1, 1), uuid.UUID(int=0))
# Deadlock and serialisation failure: another writer crossed this slice; the slice is retried.
_RETRYABLE = frozenset({"40P01", "40001"})
_SLICE_ATTEMPTS = 3


@dataclass
class SweepSummary:
    """What one sweep did."""

    as_of: date
    # The run recorded for each partner swept.
    runs: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    invoices_examined: int = 0
    steps_executed: Counter[DunningStep] = field(default_factory=Counter)
    accounts_made_delinquent: int = 0
    slices: int = 0
    # False when the sweep stopped early (shutdown) or failed; the next run carries on.
    completed: bool = False

    @property
    def total_steps(self) -> int:
        return sum(self.steps_executed.values())


@dataclass(frozen=True)
class _Sweep:
    as_of: date
    partner_id: uuid.UUID | None
    trigger: RunTrigger
    requested_by: str | None
    batch_size: int
    # None: the partner's stored policy is unreadable, so it is not dunned (and it is logged).
    policies: dict[uuid.UUID, DunningPolicy | None]
    schedules: Schedules


@dataclass
class _SliceOutcome:
    end: tuple[date, uuid.UUID]
    walked: int
    new_runs: dict[uuid.UUID, uuid.UUID]
    steps: Counter[DunningStep]
    made_delinquent: int


async def run_dunning_sweep(
    db: Database,
    *,
    as_of: date,
    partner_id: uuid.UUID | None = None,
    trigger: RunTrigger = RunTrigger.SCHEDULE,
    requested_by: str | None = None,
    batch_size: int = 5000,
    should_stop: Callable[[], bool] | None = None,
) -> SweepSummary:
    """Run every dunning step due on ``as_of`` (one partner's, or every partner's), once.

    Records a run per partner swept. ``should_stop`` is asked between slices (shutdown): the
    sweep then ends early and the next one carries on where the work is left.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    clock = time.perf_counter()
    summary = SweepSummary(as_of=as_of)
    async with db.sweep_session() as session:
        policies = await _policies_in_force(DunningPolicyRepository(session), partner_id)
        repo = SweepRepository(session)
        # A run for each partner swept, recorded even when nothing of theirs is due.
        partners = [partner_id] if partner_id is not None else await repo.partners()
        runs = [_new_run(partner, as_of, trigger, requested_by) for partner in partners]
        await repo.start_runs(runs)
        summary.runs.update((run.partner_id, run.id) for run in runs)
    sweep = _Sweep(
        as_of, partner_id, trigger, requested_by, batch_size, policies, _schedules(policies)
    )
    cursor = _START
    # What the runs record if the sweep ends any other way than by finishing (cancelled).
    error: str | None = "interrupted before the end; the next run carries on"
    try:
        while True:
            if should_stop is not None and should_stop():
                error = "stopped before the end (shutting down); the next run carries on"
                break
            outcome = await _slice_with_retries(db, sweep, summary.runs, cursor)
            if outcome is None:
                summary.completed = True
                error = None
                break
            cursor = outcome.end
            summary.slices += 1
            summary.invoices_examined += outcome.walked
            summary.runs.update(outcome.new_runs)
            summary.steps_executed.update(outcome.steps)
            summary.accounts_made_delinquent += outcome.made_delinquent
    except Exception as exc:
        error = f"failed: {type(exc).__name__}"
        raise
    finally:
        await _finish(db, summary, error)
    log.info(
        "dunning.sweep_finished",
        as_of=as_of.isoformat(),
        partner_id=str(partner_id) if partner_id else None,
        trigger=trigger.value,
        partners=len(summary.runs),
        invoices_examined=summary.invoices_examined,
        steps={step.value: count for step, count in summary.steps_executed.items()},
        accounts_made_delinquent=summary.accounts_made_delinquent,
        completed=summary.completed,
        seconds=round(time.perf_counter() - clock, 3),
    )
    return summary


async def _policies_in_force(
    repo: DunningPolicyRepository, partner_id: uuid.UUID | None
) -> dict[uuid.UUID, DunningPolicy | None]:
    policies: dict[uuid.UUID, DunningPolicy | None] = {}
    for row in await repo.in_force(partner_id):
        try:
            policies[row.partner_id] = policy_from_stored(row.steps, row.minimum_amount)
        except (KeyError, TypeError, ValueError):
            # Saved policies are validated; one that no longer parses is not guessed at.
            log.error(
                "dunning.policy_unreadable", partner_id=str(row.partner_id), version=row.version
            )
            policies[row.partner_id] = None
    return policies


def _schedules(policies: dict[uuid.UUID, DunningPolicy | None]) -> Schedules:
    # The default's rows sit under the nil UUID, which is no partner's id.
    default_key = uuid.UUID(int=0)
    keys: list[uuid.UUID] = []
    ranks: list[int] = []
    offsets: list[int] = []
    minimums: list[int] = []
    for key, policy in [(default_key, DEFAULT_POLICY), *policies.items()]:
        if policy is None:
            continue  # no rows: the partner is not dunned
        for scheduled in policy.steps:
            keys.append(key)
            ranks.append(step_rank(scheduled.step) + 1)
            offsets.append(scheduled.day_offset)
            minimums.append(policy.minimum_amount)
    return Schedules(
        step_order=[step.value for step in STEP_ORDER],
        keys=keys,
        ranks=ranks,
        offsets=offsets,
        minimums=minimums,
        own_policies=list(policies),
        default_key=default_key,
    )


def _new_run(
    partner_id: uuid.UUID, as_of: date, trigger: RunTrigger, requested_by: str | None
) -> DunningRun:
    return DunningRun(
        id=new_id(),
        partner_id=partner_id,
        as_of=as_of,
        trigger=trigger.value,
        requested_by=requested_by,
        started_at=datetime.now(UTC),
        steps_executed=0,
    )


async def _slice_with_retries(
    db: Database,
    sweep: _Sweep,
    runs: dict[uuid.UUID, uuid.UUID],
    cursor: tuple[date, uuid.UUID],
) -> _SliceOutcome | None:
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _sweep_slice(db, sweep, runs, cursor)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate not in _RETRYABLE or attempt == _SLICE_ATTEMPTS:
                raise
            log.warning("dunning.slice_retry", attempt=attempt, sqlstate=sqlstate)


async def _sweep_slice(
    db: Database,
    sweep: _Sweep,
    runs: dict[uuid.UUID, uuid.UUID],
    cursor: tuple[date, uuid.UUID],
) -> _SliceOutcome | None:
    """One slice of the walk in one transaction; None when the walk is over."""
    as_of = sweep.as_of
    async with db.sweep_session() as session:
        repo = SweepRepository(session)
        end = await repo.slice_end(
            as_of=as_of, partner_id=sweep.partner_id, after=cursor, size=sweep.batch_size
        )
        if end is None:
            return None
        upto = (end.due_on, end.id)
        invoices = await repo.dunnable(
            as_of=as_of,
            partner_id=sweep.partner_id,
            after=cursor,
            upto=upto,
            schedules=sweep.schedules,
        )
        planned: list[tuple[DunnableInvoice, DunningStep, int]] = []
        for invoice in invoices:
            policy = sweep.policies.get(invoice.partner_id, DEFAULT_POLICY)
            if policy is None or not policy.dunnable(invoice.balance):
                continue
            days = (as_of - invoice.due_on).days
            done = (STEP_ORDER[invoice.furthest - 1],) if invoice.furthest else ()
            for step in steps_due(policy, days, done):
                planned.append((invoice, step, days))

        # A partner whose first account opened after the sweep started: its run commits with
        # this slice.
        late = [
            _new_run(partner_id, as_of, sweep.trigger, sweep.requested_by)
            for partner_id in sorted({invoice.partner_id for invoice in invoices} - runs.keys())
        ]
        await repo.start_runs(late)
        new_runs = {run.partner_id: run.id for run in late}
        run_of = {**runs, **new_runs}

        inserted = await repo.insert_actions(
            [
                NewAction(
                    id=new_id(),
                    partner_id=invoice.partner_id,
                    invoice_id=invoice.id,
                    account_id=invoice.account_id,
                    run_id=run_of[invoice.partner_id],
                    step=step.value,
                    as_of=as_of,
                    days_overdue=days,
                    balance=invoice.balance,
                )
                for invoice, step, days in planned
            ]
        )
        executed = [p for p in planned if (p[0].id, p[1].value) in inserted]
        made_delinquent = await _apply_effects(repo, sweep, run_of, executed)

        steps: Counter[DunningStep] = Counter(step for _, step, _ in executed)
        await repo.count_steps(dict(Counter(run_of[inv.partner_id] for inv, _, _ in executed)))
    for step, count in steps.items():
        STEPS_EXECUTED.labels(step.value).inc(count)
    log.debug("dunning.slice", walked=end.walked, dunnable=len(invoices), steps=len(executed))
    return _SliceOutcome(upto, end.walked, new_runs, steps, made_delinquent)


# Invoices of one account that reached one step in this slice (oldest first), with their
# days overdue.
_Group = list[tuple[DunnableInvoice, int]]


async def _apply_effects(
    repo: SweepRepository,
    sweep: _Sweep,
    run_of: dict[uuid.UUID, uuid.UUID],
    executed: list[tuple[DunnableInvoice, DunningStep, int]],
) -> int:
    """Events, notices and delinquency for the steps this sweep inserted; how many accounts
    became delinquent."""
    if not executed:
        return 0
    now = datetime.now(UTC)
    # account -> (step, currency) -> invoices, accounts in walk order.
    by_account: dict[uuid.UUID, dict[tuple[DunningStep, str], _Group]] = {}
    for invoice, step, days in executed:
        groups = by_account.setdefault(invoice.account_id, {})
        groups.setdefault((step, invoice.currency), []).append((invoice, days))

    suspended = [
        account_id
        for account_id, groups in by_account.items()
        if any(step is DunningStep.SUSPENSION_REQUEST for step, _ in groups)
    ]
    delinquent: dict[uuid.UUID, CustomerDelinquent] = {}
    if suspended:
        delinquent = await _make_delinquent(repo, sweep.as_of, suspended, by_account)
    made_delinquent = len(delinquent)

    emails = await repo.billing_emails(list(by_account))
    events: list[PendingEvent] = []
    notices: list[NewNotice] = []
    for account_id, groups in by_account.items():
        for (step, currency), group in sorted(groups.items(), key=lambda g: step_rank(g[0][0])):
            first = group[0][0]
            amount = sum(invoice.balance for invoice, _ in group)
            days = max(days for _, days in group)
            invoice_ids = tuple(invoice.id for invoice, _ in group)
            events.append(
                PendingEvent(
                    DunningStepExecuted(
                        account_id=account_id,
                        customer_id=first.customer_id,
                        step=step,
                        invoice_ids=invoice_ids,
                        amount_overdue=money(amount, currency),
                        days_overdue=days,
                        executed_at=now,
                    ),
                    partner_id=first.partner_id,
                    subject=account_id,
                    customer_id=first.customer_id,
                    aggregate_key=f"account:{account_id}",
                )
            )
            recipient = emails.get(account_id)
            notices.append(
                NewNotice(
                    id=new_id(),
                    partner_id=first.partner_id,
                    account_id=account_id,
                    run_id=run_of[first.partner_id],
                    step=step.value,
                    invoice_ids=invoice_ids,
                    amount_overdue=amount,
                    currency=currency,
                    days_overdue=days,
                    recipient=recipient,
                    status=NoticeStatus.PENDING if recipient else NoticeStatus.NO_RECIPIENT,
                )
            )
            if step is DunningStep.SUSPENSION_REQUEST and account_id in delinquent:
                # Right after the step that caused it, in the account's event order.
                events.append(
                    PendingEvent(
                        delinquent.pop(account_id),
                        partner_id=first.partner_id,
                        subject=first.customer_id,
                        customer_id=first.customer_id,
                        aggregate_key=f"account:{account_id}",
                    )
                )
    await repo.emit_many(events)
    await repo.insert_notices(notices)
    return made_delinquent


async def _make_delinquent(
    repo: SweepRepository,
    as_of: date,
    account_ids: list[uuid.UUID],
    by_account: dict[uuid.UUID, dict[tuple[DunningStep, str], _Group]],
) -> dict[uuid.UUID, CustomerDelinquent]:
    """Mark delinquent the accounts that reached the suspension step and were not already;
    the event each of them gets."""
    # Locked first, then read: a payment that brought the account current meanwhile (it holds
    # the account's lock while it posts) is seen, and the account is not marked.
    standing = await repo.lock_accounts(account_ids)
    overdue = await repo.overdue(account_ids, as_of)
    since: dict[uuid.UUID, date] = {}
    made: dict[uuid.UUID, CustomerDelinquent] = {}
    for account_id in account_ids:
        owed = overdue.get(account_id)
        if owed is None or account_id not in standing or standing[account_id] is not None:
            continue
        customer_id = next(iter(by_account[account_id].values()))[0][0].customer_id
        since[account_id] = owed.oldest_due_on
        made[account_id] = CustomerDelinquent(
            customer_id=customer_id,
            account_id=account_id,
            amount_overdue=money(owed.amount, owed.currency),
            days_overdue=(as_of - owed.oldest_due_on).days,
            oldest_invoice_id=owed.oldest_invoice_id,
            since=owed.oldest_due_on,
        )
        log.info(
            "dunning.account_delinquent",
            account_id=str(account_id),
            since=owed.oldest_due_on.isoformat(),
            days_overdue=(as_of - owed.oldest_due_on).days,
        )
    await repo.mark_delinquent(since)
    return made


async def _finish(db: Database, summary: SweepSummary, error: str | None) -> None:
    if not summary.runs:
        return
    try:
        async with db.sweep_session() as session:
            await SweepRepository(session).finish_runs(
                list(summary.runs.values()), datetime.now(UTC), error
            )
    except Exception:
        # Never hide the sweep's own outcome behind a failure to record it.
        log.exception("dunning.run_not_finished", runs=len(summary.runs))
