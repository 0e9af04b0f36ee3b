"""Queries for applications, their audit trail and the velocity of new ones."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import ARRAY

from partnerguard.common.db.repository import Repository
from partnerguard.common.outbox import OutboxEntry
from partnerguard.common.tables import OutboxEvent
from partnerguard.onboarding.applications.schemas import CustomerFilters
from partnerguard.onboarding.models import Application, ApplicationEvent, CollectionsAcceptance
from partnerguard.onboarding.scoring import VelocityKey

_VELOCITY_COLUMNS: dict[VelocityKey, Any] = {
    VelocityKey.IP: Application.signup_ip,
    VelocityKey.DEVICE: Application.device_id,
    VelocityKey.EMAIL_DOMAIN: Application.email_domain,
    VelocityKey.PHONE: Application.contact_phone,
    VelocityKey.CARD_BIN: Application.card_bin,
}


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

    async def velocity(
        self,
        partner_id: uuid.UUID,
        values: Mapping[VelocityKey, object],
        windows: Mapping[VelocityKey, int],
        now: datetime,
    ) -> dict[VelocityKey, int]:
        """How many applications share each key's value within that key's window (minutes),
        in one query over the velocity indexes."""
        keys = tuple(key for key, value in values.items() if value is not None and key in windows)
        if not keys:
            return {}
        parameters: dict[str, object] = {"partner_id": partner_id}
        for key in keys:
            parameters[f"{key.value}_value"] = values[key]
            parameters[f"{key.value}_since"] = now - timedelta(minutes=windows[key])
        row = (await self.session.execute(_velocity(keys), parameters)).one()
        return {key: int(count) for key, count in zip(keys, row, strict=True)}

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
def _velocity(keys: tuple[VelocityKey, ...]) -> Select[*tuple[int, ...]]:
    """The velocity query for these keys, built once per set of keys (a handful in use):
    constructing it anew cost each application more CPU than the database spends on it."""
    matches = [
        and_(
            _VELOCITY_COLUMNS[key] == bindparam(f"{key.value}_value"),
            Application.created_at >= bindparam(f"{key.value}_since"),
        )
        for key in keys
    ]
    return select(*(func.count().filter(match) for match in matches)).where(
        Application.partner_id == bindparam("partner_id"), or_(*matches)
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
    for key, default in _defaults(type(entity)):
        value = given.get(key)
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        if key not in given:
            set_committed_value(entity, key, value)
        row[key] = value
    return row


@functools.cache
def _defaults(model: Any) -> tuple[tuple[str, Any], ...]:
    """Each column of ``model`` with its Python-side default (None when it has none)."""
    return tuple((column.key, column.default) for column in model.__table__.columns)


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
