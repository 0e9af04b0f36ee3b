"""Queries for dunning: policy versions, the sweep's set-based statements, runs, actions and
notices, and a bulk outbox writer for the sweep's events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.models import (
    Account,
    DunningAction,
    DunningNotice,
    DunningPolicyVersion,
    DunningRun,
    Invoice,
)
from partnerguard.common.db.repository import Repository
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.envelope import CloudEvent
from partnerguard.common.tracing import current_traceparent

# --- policy versions --------------------------------------------------------------------------


class DunningPolicyRepository(Repository[DunningPolicyVersion]):
    model = DunningPolicyVersion

    async def latest(self, partner_id: uuid.UUID) -> DunningPolicyVersion | None:
        statement = (
            self.select_for_partner(partner_id)
            .order_by(DunningPolicyVersion.version.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_versions(self, partner_id: uuid.UUID) -> int:
        """Serialise saves of one partner's policy for this transaction; the latest version."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"billing:dunning-policy:{partner_id}"},
        )
        statement = select(func.coalesce(func.max(DunningPolicyVersion.version), 0)).where(
            DunningPolicyVersion.partner_id == partner_id
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def page(
        self, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
    ) -> Sequence[DunningPolicyVersion]:
        """Newest first (ids are time-ordered, as versions are)."""
        statement = self.select_for_partner(partner_id)
        if after is not None:
            statement = statement.where(DunningPolicyVersion.id < after)
        return await self.list(statement.order_by(DunningPolicyVersion.id.desc()).limit(limit + 1))

    async def in_force(self, partner_id: uuid.UUID | None) -> Sequence[DunningPolicyVersion]:
        """The latest version of each partner's policy (one partner's, or every partner's)."""
        statement = select(DunningPolicyVersion).order_by(
            DunningPolicyVersion.partner_id, DunningPolicyVersion.version.desc()
        )
        if partner_id is not None:
            statement = statement.where(DunningPolicyVersion.partner_id == partner_id)
        return await self.list(statement.ext(distinct_on(DunningPolicyVersion.partner_id)))


# --- the sweep --------------------------------------------------------------------------------

# Literal, not bound: the planner must see that the open-invoice partial index
# (ix_invoices_open_due on due_on, id) covers the walk, in generic plans too.
_WALK = """
    i.status IN ('open', 'partially_paid')
      AND i.due_on < :as_of
      AND (i.due_on, i.id) > (:after_due, :after_id)
"""
_ONE_PARTNER = " AND i.partner_id = :partner_id"

_SLICE_END = """
    SELECT due_on, id, count(*) OVER () AS walked
    FROM (
        SELECT i.due_on, i.id FROM invoices i
        WHERE {walk} {partner}
        ORDER BY i.due_on, i.id
        LIMIT :size
    ) AS s
    ORDER BY due_on DESC, id DESC
    LIMIT 1
"""

# The slice's invoices with a step due: owing at least the policy's minimum, not disputed,
# their account not waiting for a reported payment to post, and a step of their partner's
# schedule reached that ranks above the furthest step they have had (escalation only goes
# forward). This is policy.steps_due's own rule, applied in SQL so that only the invoices with
# something to do leave the database; the engine still asks steps_due which steps they are.
_DUNNABLE = """
    WITH schedule AS MATERIALIZED (
        SELECT * FROM unnest(
            CAST(:schedule_keys AS uuid[]), CAST(:schedule_ranks AS integer[]),
            CAST(:schedule_offsets AS integer[]), CAST(:schedule_minimums AS bigint[])
        ) AS s(policy_key, rank, day_offset, minimum_amount)
    )
    SELECT i.id, i.partner_id, i.account_id, i.customer_id, i.due_on, i.currency,
           i.total - i.paid - i.credited AS balance, d.furthest
    FROM invoices i
    CROSS JOIN LATERAL (
        SELECT coalesce(max(array_position(CAST(:step_order AS text[]), a.step)), 0) AS furthest
        FROM dunning_actions a
        WHERE a.invoice_id = i.id
    ) AS d
    WHERE {walk} {partner}
      AND (i.due_on, i.id) <= (:upto_due, :upto_id)
      AND i.disputed_at IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM payments p
          WHERE p.account_id = i.account_id
            AND p.status = 'reported'
            AND p.expected_by >= :as_of
      )
      AND EXISTS (
          SELECT 1 FROM schedule s
          WHERE s.policy_key = CASE
                  WHEN i.partner_id = ANY(CAST(:own_policies AS uuid[])) THEN i.partner_id
                  ELSE CAST(:default_key AS uuid)
                END
            AND s.day_offset <= :as_of - i.due_on
            AND s.rank > d.furthest
            AND i.total - i.paid - i.credited >= greatest(s.minimum_amount, 1)
      )
    ORDER BY i.due_on, i.id
"""

_INSERT_ACTIONS = text(
    """
    INSERT INTO dunning_actions
        (id, partner_id, invoice_id, account_id, run_id, step, as_of, days_overdue, balance)
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:partner_ids AS uuid[]), CAST(:invoice_ids AS uuid[]),
        CAST(:account_ids AS uuid[]), CAST(:run_ids AS uuid[]), CAST(:steps AS text[]),
        CAST(:as_ofs AS date[]), CAST(:days AS integer[]), CAST(:balances AS bigint[])
    )
    ON CONFLICT (invoice_id, step) DO NOTHING
    RETURNING invoice_id, step
    """
)

_LOCK_ACCOUNTS = text(
    """
    SELECT id, delinquent_since FROM accounts
    WHERE id = ANY(CAST(:ids AS uuid[]))
    ORDER BY id
    FOR NO KEY UPDATE
    """
)

# The same "overdue" as standing's: every open invoice past its due date.
_OVERDUE = text(
    """
    SELECT DISTINCT ON (account_id)
           account_id, id AS oldest_invoice_id, due_on AS oldest_due_on, currency,
           sum(total - paid - credited) OVER (PARTITION BY account_id) AS amount
    FROM invoices
    WHERE account_id = ANY(CAST(:ids AS uuid[]))
      AND status IN ('open', 'partially_paid')
      AND due_on < :as_of
    ORDER BY account_id, due_on, id
    """
)

_MARK_DELINQUENT = text(
    """
    UPDATE accounts SET delinquent_since = u.since, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:since AS date[])) AS u(id, since)
    WHERE accounts.id = u.id AND accounts.delinquent_since IS NULL
    """
)

_INSERT_NOTICES = text(
    """
    INSERT INTO dunning_notices
        (id, partner_id, account_id, run_id, step, invoice_ids, amount_overdue, currency,
         days_overdue, recipient, status, attempts)
    SELECT n.id, n.partner_id, n.account_id, n.run_id, n.step, CAST(n.invoice_ids AS uuid[]),
           n.amount, n.currency, n.days, n.recipient, n.status, 0
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:partner_ids AS uuid[]), CAST(:account_ids AS uuid[]),
        CAST(:run_ids AS uuid[]), CAST(:steps AS text[]), CAST(:invoice_ids AS text[]),
        CAST(:amounts AS bigint[]), CAST(:currencies AS text[]), CAST(:days AS integer[]),
        CAST(:recipients AS text[]), CAST(:statuses AS text[])
    ) WITH ORDINALITY
        AS n(id, partner_id, account_id, run_id, step, invoice_ids, amount, currency, days,
             recipient, status, ordinal)
    ORDER BY n.ordinal
    """
)

_INSERT_EVENTS = text(
    """
    INSERT INTO outbox_events (id, partner_id, aggregate_key, subject, event_type, envelope)
    SELECT e.id, e.partner_id, e.aggregate_key, e.subject, e.event_type,
           CAST(e.envelope AS jsonb)
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:partner_ids AS uuid[]), CAST(:keys AS text[]),
        CAST(:subjects AS text[]), CAST(:types AS text[]), CAST(:envelopes AS text[])
    ) WITH ORDINALITY AS e(id, partner_id, aggregate_key, subject, event_type, envelope, ordinal)
    ORDER BY e.ordinal
    """
)


@dataclass(frozen=True)
class SliceEnd:
    """The last invoice of the next slice of the walk, and how many invoices the slice holds."""

    due_on: date
    id: uuid.UUID
    walked: int


@dataclass(frozen=True)
class Schedules:
    """Every policy the sweep applies, flattened for SQL: one row per (policy, step).

    A partner in ``own_policies`` has rows under its own id (none at all: not dunned); every
    other partner follows the rows under ``default_key``.
    """

    step_order: list[str]
    keys: list[uuid.UUID]
    ranks: list[int]
    offsets: list[int]
    minimums: list[int]
    own_policies: list[uuid.UUID]
    default_key: uuid.UUID


@dataclass(frozen=True)
class DunnableInvoice:
    id: uuid.UUID
    partner_id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    due_on: date
    currency: str
    balance: int
    # Rank (1-based, in step order) of the furthest step the invoice has had; 0 for none.
    furthest: int


@dataclass(frozen=True)
class NewAction:
    id: uuid.UUID
    partner_id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    run_id: uuid.UUID
    step: str
    as_of: date
    days_overdue: int
    balance: int


@dataclass(frozen=True)
class AccountOverdue:
    account_id: uuid.UUID
    oldest_invoice_id: uuid.UUID
    oldest_due_on: date
    currency: str
    amount: int


@dataclass(frozen=True)
class NewNotice:
    id: uuid.UUID
    partner_id: uuid.UUID
    account_id: uuid.UUID
    run_id: uuid.UUID
    step: str
    invoice_ids: tuple[uuid.UUID, ...]
    amount_overdue: int
    currency: str
    days_overdue: int
    recipient: str | None
    status: str


@dataclass(frozen=True)
class PendingEvent:
    """An event to write, with the same routing :func:`partnerguard.common.outbox.emit` takes."""

    data: EventData
    partner_id: uuid.UUID
    subject: str | uuid.UUID
    customer_id: uuid.UUID | None
    aggregate_key: str


class SweepRepository:
    """The sweep's statements; every one is set-based over one batch (sweep role, all partners)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _walk(self, template: str, partner_id: uuid.UUID | None) -> Any:
        # Two fixed shapes (every partner / one partner), so each is prepared once and reused.
        return text(template.format(walk=_WALK, partner=_ONE_PARTNER if partner_id else ""))

    async def slice_end(
        self,
        *,
        as_of: date,
        partner_id: uuid.UUID | None,
        after: tuple[date, uuid.UUID],
        size: int,
    ) -> SliceEnd | None:
        """Where the next ``size`` open invoices past due (in due date, id order) end."""
        params: dict[str, Any] = {
            "as_of": as_of,
            "after_due": after[0],
            "after_id": after[1],
            "size": size,
        }
        if partner_id is not None:
            params["partner_id"] = partner_id
        row = (await self.session.execute(self._walk(_SLICE_END, partner_id), params)).first()
        return SliceEnd(row.due_on, row.id, int(row.walked)) if row is not None else None

    async def dunnable(
        self,
        *,
        as_of: date,
        partner_id: uuid.UUID | None,
        after: tuple[date, uuid.UUID],
        upto: tuple[date, uuid.UUID],
        schedules: Schedules,
    ) -> list[DunnableInvoice]:
        """The slice's invoices with a step due under their partner's schedule, in walk order,
        each with the furthest step it has had."""
        params: dict[str, Any] = {
            "as_of": as_of,
            "after_due": after[0],
            "after_id": after[1],
            "upto_due": upto[0],
            "upto_id": upto[1],
            "step_order": schedules.step_order,
            "schedule_keys": schedules.keys,
            "schedule_ranks": schedules.ranks,
            "schedule_offsets": schedules.offsets,
            "schedule_minimums": schedules.minimums,
            "own_policies": schedules.own_policies,
            "default_key": schedules.default_key,
        }
        if partner_id is not None:
            params["partner_id"] = partner_id
        result = await self.session.execute(self._walk(_DUNNABLE, partner_id), params)
        return [
            DunnableInvoice(
                id=row[0],
                partner_id=row[1],
                account_id=row[2],
                customer_id=row[3],
                due_on=row[4],
                currency=row[5],
                balance=int(row[6]),
                furthest=int(row[7]),
            )
            for row in result
        ]

    async def insert_actions(self, actions: Sequence[NewAction]) -> set[tuple[uuid.UUID, str]]:
        """Insert the actions none has taken yet; the (invoice, step) pairs actually inserted.

        A concurrent sweep that inserted a pair first keeps it: this one gets nothing back for
        it, and so does nothing about it.
        """
        if not actions:
            return set()
        result = await self.session.execute(
            _INSERT_ACTIONS,
            {
                "ids": [a.id for a in actions],
                "partner_ids": [a.partner_id for a in actions],
                "invoice_ids": [a.invoice_id for a in actions],
                "account_ids": [a.account_id for a in actions],
                "run_ids": [a.run_id for a in actions],
                "steps": [a.step for a in actions],
                "as_ofs": [a.as_of for a in actions],
                "days": [a.days_overdue for a in actions],
                "balances": [a.balance for a in actions],
            },
        )
        return {(row[0], row[1]) for row in result}

    async def billing_emails(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        result = await self.session.execute(
            text(
                "SELECT id, billing_email FROM accounts "
                "WHERE id = ANY(CAST(:ids AS uuid[])) AND billing_email IS NOT NULL"
            ),
            {"ids": list(account_ids)},
        )
        return {row[0]: row[1] for row in result}

    async def lock_accounts(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date | None]:
        """Lock the accounts (in id order, against concurrent money changes); their
        ``delinquent_since``. Statements after this one see what the lock holders committed."""
        result = await self.session.execute(_LOCK_ACCOUNTS, {"ids": sorted(account_ids)})
        return {row[0]: row[1] for row in result}

    async def overdue(
        self, account_ids: Sequence[uuid.UUID], as_of: date
    ) -> dict[uuid.UUID, AccountOverdue]:
        """Per account: what it owes past due on ``as_of``, and its oldest overdue invoice."""
        result = await self.session.execute(_OVERDUE, {"ids": list(account_ids), "as_of": as_of})
        return {
            row[0]: AccountOverdue(row[0], row[1], row[2], row[3], int(row[4])) for row in result
        }

    async def mark_delinquent(self, since: dict[uuid.UUID, date]) -> None:
        if since:
            await self.session.execute(
                _MARK_DELINQUENT, {"ids": list(since), "since": list(since.values())}
            )

    async def insert_notices(self, notices: Sequence[NewNotice]) -> None:
        if not notices:
            return
        await self.session.execute(
            _INSERT_NOTICES,
            {
                "ids": [n.id for n in notices],
                "partner_ids": [n.partner_id for n in notices],
                "account_ids": [n.account_id for n in notices],
                "run_ids": [n.run_id for n in notices],
                "steps": [n.step for n in notices],
                # uuid[] per notice, as array literals: unnest would flatten a 2-D array.
                "invoice_ids": ["{" + ",".join(map(str, n.invoice_ids)) + "}" for n in notices],
                "amounts": [n.amount_overdue for n in notices],
                "currencies": [n.currency for n in notices],
                "days": [n.days_overdue for n in notices],
                "recipients": [n.recipient for n in notices],
                "statuses": [n.status for n in notices],
            },
        )

    async def emit_many(self, events: Sequence[PendingEvent]) -> None:
        """Write ``events`` to the outbox in this transaction, in order, each exactly as
        :func:`partnerguard.common.outbox.emit` would (same envelope, same columns)."""
        if not events:
            return
        traceparent = current_traceparent()
        ids: list[uuid.UUID] = []
        partner_ids: list[uuid.UUID] = []
        keys: list[str] = []
        subjects: list[str] = []
        types: list[str] = []
        envelopes: list[str] = []
        for event in events:
            definition = event.data.definition()
            envelope = CloudEvent(
                source=f"urn:partnerguard:{definition.domain}",
                type=definition.type,
                subject=str(event.subject),
                data=event.data.model_dump(mode="json"),
                partnerid=event.partner_id,
                customerid=event.customer_id,
                traceparent=traceparent,
            )
            ids.append(envelope.id)
            partner_ids.append(event.partner_id)
            keys.append(event.aggregate_key)
            subjects.append(definition.subject(event.partner_id))
            types.append(definition.type)
            envelopes.append(envelope.model_dump_json(exclude_none=True))
        await self.session.execute(
            _INSERT_EVENTS,
            {
                "ids": ids,
                "partner_ids": partner_ids,
                "keys": keys,
                "subjects": subjects,
                "types": types,
                "envelopes": envelopes,
            },
        )

    # --- runs ---

    async def partners(self) -> list[uuid.UUID]:
        """Every partner with a billing account: those a scheduled sweep records a run for."""
        statement = select(Account.partner_id).distinct().order_by(Account.partner_id)
        return list((await self.session.execute(statement)).scalars())

    async def start_runs(self, runs: Sequence[DunningRun]) -> None:
        self.session.add_all(runs)
        await self.session.flush()

    async def count_steps(self, counts: dict[uuid.UUID, int]) -> None:
        """Add each run's steps of this batch to its ``steps_executed`` (same transaction)."""
        for run_id, count in sorted(counts.items()):
            await self.session.execute(
                update(DunningRun)
                .where(DunningRun.id == run_id)
                .values(steps_executed=DunningRun.steps_executed + count)
            )

    async def finish_runs(
        self, run_ids: Sequence[uuid.UUID], finished_at: datetime, error: str | None
    ) -> None:
        if run_ids:
            await self.session.execute(
                update(DunningRun)
                .where(DunningRun.id.in_(list(run_ids)))
                .values(finished_at=finished_at, error=error)
            )


# --- runs, actions and notices, as partners read them ------------------------------------------


class DunningRunRepository(Repository[DunningRun]):
    model = DunningRun

    async def page(
        self, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
    ) -> Sequence[DunningRun]:
        """Newest first."""
        statement = self.select_for_partner(partner_id)
        if after is not None:
            statement = statement.where(DunningRun.id < after)
        return await self.list(statement.order_by(DunningRun.id.desc()).limit(limit + 1))

    async def steps_by_kind(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        statement = (
            select(DunningAction.run_id, DunningAction.step, func.count())
            .where(DunningAction.run_id.in_(list(run_ids)))
            .group_by(DunningAction.run_id, DunningAction.step)
        )
        counts: dict[uuid.UUID, dict[str, int]] = {}
        for run_id, step, count in await self.session.execute(statement):
            counts.setdefault(run_id, {})[step] = int(count)
        return counts


class DunningActionRepository(Repository[DunningAction]):
    model = DunningAction

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        invoice_id: uuid.UUID | None,
        account_id: uuid.UUID | None,
        run_id: uuid.UUID | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[tuple[DunningAction, str]]:
        """Oldest first, each with its invoice's currency."""
        statement = (
            select(DunningAction, Invoice.currency)
            .join(Invoice, Invoice.id == DunningAction.invoice_id)
            .where(DunningAction.partner_id == partner_id)
        )
        if invoice_id is not None:
            statement = statement.where(DunningAction.invoice_id == invoice_id)
        if account_id is not None:
            statement = statement.where(DunningAction.account_id == account_id)
        if run_id is not None:
            statement = statement.where(DunningAction.run_id == run_id)
        if after is not None:
            statement = statement.where(DunningAction.id > after)
        statement = statement.order_by(DunningAction.id).limit(limit + 1)
        return list(await self.session.execute(statement))


class DunningNoticeRepository(Repository[DunningNotice]):
    model = DunningNotice

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[DunningNotice]:
        statement = self.select_for_partner(partner_id)
        if account_id is not None:
            statement = statement.where(DunningNotice.account_id == account_id)
        if status is not None:
            statement = statement.where(DunningNotice.status == status)
        if after is not None:
            statement = statement.where(DunningNotice.id > after)
        return await self.list(statement.order_by(DunningNotice.id).limit(limit + 1))

    async def claim_pending(self, limit: int, now: datetime) -> Sequence[DunningNotice]:
        """Up to ``limit`` pending notices due by ``now``, oldest first, row-locked; rows another
        sender holds are skipped, so senders running at once share the work and never send one
        twice."""
        statement = (
            select(DunningNotice)
            .where(
                DunningNotice.status == "pending",
                or_(DunningNotice.next_attempt_at.is_(None), DunningNotice.next_attempt_at <= now),
            )
            .order_by(DunningNotice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self.list(statement)

    async def invoice_refs(
        self, invoice_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, date]]:
        """Number and due date of each invoice, for the notice's text."""
        statement = select(Invoice.id, Invoice.number, Invoice.due_on).where(
            Invoice.id.in_(list(invoice_ids))
        )
        return {row[0]: (row[1], row[2]) for row in (await self.session.execute(statement))}
