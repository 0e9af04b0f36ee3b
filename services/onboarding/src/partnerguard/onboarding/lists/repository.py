"""Queries for list entries: the partner's pages of entries, and the scorer's lookup (``HITS``,
read with the rest of what a new application is decided on)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address

from sqlalchemy import ColumnElement, Text, and_, any_, bindparam, delete, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, INET, insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.onboarding.lists.values import Network
from partnerguard.onboarding.models import ListEntry
from partnerguard.onboarding.scoring.facts import ListKind, ListName


@dataclass(frozen=True)
class HitLookup:
    """Canonical candidate values per kind (empty: nothing of that kind to look up)."""

    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    ip: IPv4Address | IPv6Address | None = None
    devices: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return self.ip is None and not any(
            (self.emails, self.domains, self.devices, self.bins, self.phones, self.tenants)
        )


@dataclass(frozen=True)
class HitRow:
    list: str
    kind: str
    value: str
    reason: str


class ListEntryRepository(Repository[ListEntry]):
    model = ListEntry

    async def insert_new(
        self,
        partner_id: uuid.UUID,
        *,
        list_name: ListName,
        kind: ListKind,
        value: str,
        network: Network | None,
        reason: str,
        expires_at: datetime | None,
        created_by: str,
    ) -> ListEntry | None:
        """Insert an entry; None when the partner already lists the same list/kind/value.

        ``ON CONFLICT DO NOTHING`` rather than catching the unique violation: the request's
        transaction stays usable, and of two concurrent adds exactly one succeeds.
        """
        statement = (
            insert(ListEntry)
            .values(
                id=new_id(),
                partner_id=partner_id,
                list=list_name.value,
                kind=kind.value,
                value=value,
                network=network,
                reason=reason,
                expires_at=expires_at,
                created_by=created_by,
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "list", "kind", "value"])
            .returning(ListEntry)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        list_name: ListName | None,
        kind: ListKind | None,
        unexpired_at: datetime | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[ListEntry]:
        """Up to ``limit + 1`` entries by id; ``unexpired_at`` leaves out entries expired then."""
        statement = self.select_for_partner(partner_id)
        if list_name is not None:
            statement = statement.where(ListEntry.list == list_name.value)
        if kind is not None:
            statement = statement.where(ListEntry.kind == kind.value)
        if unexpired_at is not None:
            statement = statement.where(
                or_(ListEntry.expires_at.is_(None), ListEntry.expires_at > unexpired_at)
            )
        if after is not None:
            statement = statement.where(ListEntry.id > after)
        return await self.list(statement.order_by(ListEntry.id).limit(limit + 1))

    async def remove(self, partner_id: uuid.UUID, id_: uuid.UUID) -> bool:
        """Delete the partner's entry ``id_``; False when it has none by that id."""
        statement = (
            delete(ListEntry)
            .where(ListEntry.partner_id == partner_id, ListEntry.id == id_)
            .returning(ListEntry.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None


def hit_parameters(lookup: HitLookup, now: datetime) -> dict[str, object]:
    """The parameters of ``HITS`` for these candidates (its ``partner_id`` is the caller's)."""
    return {
        "now": now,
        "ip": lookup.ip,
        **{
            _values_of(kind): list(values)
            for kind, values in (
                (ListKind.EMAIL, lookup.emails),
                (ListKind.DOMAIN, lookup.domains),
                (ListKind.DEVICE, lookup.devices),
                (ListKind.BIN, lookup.bins),
                (ListKind.PHONE, lookup.phones),
                (ListKind.TENANT, lookup.tenants),
            )
        },
    }


def _values_of(kind: ListKind) -> str:
    return f"{kind.value}_values"


def _among(kind: ListKind) -> ColumnElement[bool]:
    array = bindparam(_values_of(kind), type_=ARRAY(Text))
    return and_(ListEntry.kind == kind.value, ListEntry.value == any_(array))


# Built once: constructing it anew cost each application more CPU than the database spends on
# it. Every branch is always present, with an empty array (or a NULL address) for a missing
# candidate: the SQL text is then the same for every application, so asyncpg prepares it once per
# connection and PostgreSQL can reuse the plan. Equality branches use the (partner_id, kind,
# value) index; the ``ip`` branch scans the partner's ip entries.
HITS = (
    select(ListEntry.list, ListEntry.kind, ListEntry.value, ListEntry.reason)
    .where(
        ListEntry.partner_id == bindparam("partner_id"),
        or_(ListEntry.expires_at.is_(None), ListEntry.expires_at > bindparam("now")),
        or_(
            _among(ListKind.EMAIL),
            _among(ListKind.DOMAIN),
            and_(
                ListEntry.kind == ListKind.IP.value,
                ListEntry.network.op(">>=")(bindparam("ip", type_=INET)),
            ),
            _among(ListKind.DEVICE),
            _among(ListKind.BIN),
            _among(ListKind.PHONE),
            _among(ListKind.TENANT),
        ),
    )
    .order_by(ListEntry.list, ListEntry.kind, ListEntry.value)
)
