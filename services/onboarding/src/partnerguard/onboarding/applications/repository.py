"""Queries for applications, their audit trail, and what a new one is decided on."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import ARRAY

from partnerguard.common.db.repository import Repository
from partnerguard.common.outbox import OutboxEntry
from partnerguard.common.tables import OutboxEvent
from partnerguard.onboarding.applications.schemas import CustomerFilters
from partnerguard.onboarding.collections.repository import ID_OF_VERSION
from partnerguard.onboarding.lists.repository import HITS, HitLookup, HitRow, hit_parameters
from partnerguard.onboarding.models import Application, ApplicationEvent, CollectionsAcceptance
from partnerguard.onboarding.scoring import VelocityKey

_VELOCITY_COLUMNS: dict[VelocityKey, Any] = {
    VelocityKey.IP: Application.signup_ip,
    VelocityKey.DEVICE: Application.device_id,
    VelocityKey.EMAIL_DOMAIN: Application.email_domain,
    VelocityKey.PHONE: Application.contact_phone,
    VelocityKey.CARD_BIN: Application.card_bin,
}


@dataclass(frozen=True)
class Screening:
    velocity: dict[VelocityKey, int]
    hits: list[HitRow]
    collections_policy_id: uuid.UUID | None


class ApplicationRepository(Repository[Application]):
    model = Application

    async def by_customer(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, *, for_update: bool = False
    ) -> Application | None:
        statement = self.select_for_partner(partner_id).where(
            Application.customer_id == customer_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def search(
        self,
        partner_id: uuid.UUID,
        filters: CustomerFilters,
        limit: int,
        after_id: uuid.UUID | None,
    ) -> Sequence[Application]:
        statement = self.select_for_partner(partner_id)
        conditions: list[ColumnElement[bool]] = []
        if filters.status is not None:
            conditions.append(Application.status == filters.status)
        if filters.outcome is not None:
            conditions.append(Application.outcome == filters.outcome)
        if filters.country is not None:
            conditions.append(Application.company_country == filters.country)
        if filters.email_domain is not None:
            conditions.append(Application.email_domain == filters.email_domain.lower())
        if filters.vendor_tenant_id is not None:
            conditions.append(Application.vendor_tenant_id == filters.vendor_tenant_id)
        if filters.submitted_from is not None:
            conditions.append(Application.created_at >= filters.submitted_from)
        if filters.submitted_to is not None:
            conditions.append(Application.created_at < filters.submitted_to)
        if after_id is not None:
            conditions.append(Application.id > after_id)
        statement = statement.where(*conditions).order_by(Application.id).limit(limit + 1)
        return await self.list(statement)

    async def review_queue(
        self,
        partner_id: uuid.UUID,
        claimed_by: str | None,
        unclaimed: bool,
        limit: int,
        after_id: uuid.UUID | None,
    ) -> Sequence[Application]:
        """Applications waiting for a reviewer: in review, or a hard reject whose override waits
        for its second reviewer."""
        statement = self.select_for_partner(partner_id).where(
            or_(
                Application.status == "in_review",
                Application.override_requested_by.is_not(None),
            )
        )
        if claimed_by is not None:
            statement = statement.where(Application.claimed_by == claimed_by)
        if unclaimed:
            statement = statement.where(Application.claimed_by.is_(None))
        if after_id is not None:
            statement = statement.where(Application.id > after_id)
        return await self.list(statement.order_by(Application.id).limit(limit + 1))

    async def screening(
        self,
        partner_id: uuid.UUID,
        velocity: Mapping[VelocityKey, object],
        windows: Mapping[VelocityKey, int],
        lookup: HitLookup,
        collections_version: str | None,
        now: datetime,
    ) -> Screening:
        """What a new application is decided on besides itself, in one round trip: how many
        applications share each velocity key's value within that key's window (minutes), the
        list entries matching ``lookup``, and the id of the collections policy version it
        accepts (None when none is named or that version was never published)."""
        keys = tuple(key for key, value in velocity.items() if value is not None and key in windows)
        parameters: dict[str, object] = {
            "partner_id": partner_id,
            "collections_version": collections_version,
            **hit_parameters(lookup, now),
        }
        for key in keys:
            parameters[f"{key.value}_value"] = velocity[key]
            parameters[f"{key.value}_since"] = now - timedelta(minutes=windows[key])
        rows = (await self.session.execute(_screening(keys), parameters)).all()
        first = rows[0]
        return Screening(
            velocity={key: int(count) for key, count in zip(keys, first[: len(keys)], strict=True)},
            collections_policy_id=first[len(keys)],
            hits=[
                HitRow(list=r[-4], kind=r[-3], value=r[-2], reason=r[-1])
                for r in rows
                if r[-4] is not None
            ],
        )

    async def scored_since(
        self, partner_id: uuid.UUID, since: datetime | None, limit: int
    ) -> Sequence[Application]:
        """The most recent scored applications (newest first), for replaying a policy."""
        statement = self.select_for_partner(partner_id).where(Application.facts.is_not(None))
        if since is not None:
            statement = statement.where(Application.created_at >= since)
        return await self.list(statement.order_by(Application.id.desc()).limit(limit))

    async def history(
        self, partner_id: uuid.UUID, application_id: uuid.UUID
    ) -> Sequence[ApplicationEvent]:
        statement = (
            select(ApplicationEvent)
            .where(
                ApplicationEvent.partner_id == partner_id,
                ApplicationEvent.application_id == application_id,
            )
            .order_by(ApplicationEvent.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def insert_new(
        self,
        application: Application,
        audit: Sequence[Mapping[str, Any]],
        acceptance: CollectionsAcceptance | None,
        outbox: Sequence[OutboxEntry],
    ) -> None:
        """Store a new application with its audit entries, its collections acceptance and its
        outbox events, in one statement (the unit of work would send one per table, and at
        about 0.2 ms of CPU per round trip that was a third of a decision's cost).

        The application then stands in the session as if loaded, so later changes to it are
        written by the unit of work as updates.
        """
        row = _completed(application)
        parameters: dict[str, object] = dict(row)
        parameters.update(_columns(_AUDIT, audit))
        parameters.update(
            _columns(_ACCEPTANCE, [] if acceptance is None else [_completed(acceptance)])
        )
        parameters.update(_columns(_OUTBOX, [_outbox_row(entry) for entry in outbox]))
        await self.session.execute(_INSERT_NEW, parameters)
        make_transient_to_detached(application)
        self.session.add(application)

    def record(self, event: ApplicationEvent) -> None:
        """Add an audit entry; it is written with the unit of work."""
        self.session.add(event)


@functools.cache
def _screening(keys: tuple[VelocityKey, ...]) -> Select[Any]:
    """The screening query for these velocity keys, built once per set of keys (a handful in
    use): constructing it anew cost each application more CPU than the database spends on it.

    One row of counts and the accepted policy's id, repeated beside each list hit (once with
    no hit when nothing is listed).
    """
    matches = [
        and_(
            _VELOCITY_COLUMNS[key] == bindparam(f"{key.value}_value"),
            Application.created_at >= bindparam(f"{key.value}_since"),
        )
        for key in keys
    ]
    # An aggregate without GROUP BY: always one row, even with no key to count.
    counts = (
        select(
            *(
                func.count().filter(match).label(key.value)
                for key, match in zip(keys, matches, strict=True)
            )
        )
        .where(Application.partner_id == bindparam("partner_id"), or_(*matches))
        .subquery("velocity")
        if keys
        else select(literal(0).label("none")).subquery("velocity")
    )
    hits = HITS.subquery("hits")
    return (
        select(
            *(counts.c[key.value] for key in keys),
            ID_OF_VERSION.scalar_subquery(),
            hits.c.list,
            hits.c.kind,
            hits.c.value,
            hits.c.reason,
        )
        .select_from(counts.outerjoin(hits, true()))
        .order_by(hits.c.list, hits.c.kind, hits.c.value)
    )


# The child tables written with a new application, as (table, its columns written, prefix of
# their parameters). Columns the database fills (the outbox's sequence, status, attempts and
# times) are left out.
_AUDIT = (ApplicationEvent.__table__, [c.name for c in ApplicationEvent.__table__.columns], "a_")
_ACCEPTANCE = (
    CollectionsAcceptance.__table__,
    [c.name for c in CollectionsAcceptance.__table__.columns],
    "c_",
)
_OUTBOX = (
    OutboxEvent.__table__,
    ["id", "partner_id", "aggregate_key", "subject", "event_type", "envelope"],
    "o_",
)
_Child = tuple[Any, list[str], str]


def _completed(entity: Any) -> dict[str, object]:
    """The row of a new ORM object, every column given: an unset column takes its default, and
    the object is given the same value, so that it matches the row once it is stored."""
    given = entity.__dict__
    row: dict[str, object] = {}
    for key, default in _defaults(entity.__table__):
        value = given.get(key)
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        if key not in given:
            set_committed_value(entity, key, value)
        row[key] = value
    return row


@functools.cache
def _defaults(table: Table) -> tuple[tuple[str, Any], ...]:
    """Each column of ``table`` with its Python-side default (None when it has none)."""
    return tuple((column.key, column.default) for column in table.columns)


def _outbox_row(entry: OutboxEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in _OUTBOX[1]}


def _columns(child: _Child, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[object]]:
    """``rows`` as one array per column, the parameters of ``_unnest(child)``."""
    _, names, prefix = child
    return {prefix + name: [row[name] for row in rows] for name in names}


def _insert_rows(child: _Child) -> Insert:
    """``INSERT … SELECT`` from one array parameter per column: one statement for any number of
    rows, so it is prepared once per connection. Rows keep their order (the outbox relays an
    aggregate's events in the order of their sequence numbers)."""
    table, names, prefix = child
    # Each parameter is typed as an array of its column's type: the dialect casts it, which
    # unnest needs to know its result's types.
    arrays = [bindparam(prefix + name, type_=ARRAY(table.c[name].type)) for name in names]
    rows = func.unnest(*arrays).table_valued(*names, with_ordinality="n").render_derived()
    return insert(table).from_select(
        names, select(*(rows.c[name] for name in names)).order_by(rows.c.n)
    )


def _insert_new() -> Insert:
    application = insert(Application).values(
        {
            column.key: bindparam(column.key, type_=column.type)
            for column in Application.__table__.columns
        }
    )
    # The children are written in the same statement as their application: their foreign keys
    # are checked at the end of the statement, when the application's row is there.
    return _insert_rows(_OUTBOX).add_cte(
        application.cte("application"),
        _insert_rows(_AUDIT).cte("audit"),
        _insert_rows(_ACCEPTANCE).cte("acceptance"),
    )


_INSERT_NEW = _insert_new()
