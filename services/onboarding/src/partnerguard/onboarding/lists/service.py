"""Allow and block lists: entries a partner keeps, and the lookup the scorer makes per application.

The partner's unexpired entries that match an application, on either list, are read with
the rest of what it is decided on (``ApplicationRepository.screening``) and are its hits:
a domain entry covers its subdomains, an ip entry its range, a BIN entry every card number
starting with it. What a hit means (a hard reject, a score bonus, a review) is the rules
engine's business, not this module's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound
from partnerguard.onboarding.lists.repository import HitLookup, HitRow, ListEntryRepository
from partnerguard.onboarding.lists.schemas import ListEntryIn
from partnerguard.onboarding.lists.values import (
    ascii_domain,
    bin_prefixes,
    canonical_address,
    domain_and_parents,
    network_of,
)
from partnerguard.onboarding.models import ListEntry
from partnerguard.onboarding.scoring.facts import ListHit, ListKind, ListName

log = structlog.get_logger()


@dataclass(frozen=True)
class ListCandidates:
    """What of one application can be listed; None where the application has nothing."""

    email: str | None
    email_domain: str | None
    company_domain: str | None
    ip: IPv4Address | IPv6Address | None
    device_id: str | None
    card_bin: str | None
    phone: str | None
    tenant_id: uuid.UUID | None


def hit_lookup(candidates: ListCandidates) -> HitLookup:
    """Candidates in the entries' canonical forms (see ``values``), so equality is enough."""
    domains: list[str] = []
    for raw in (candidates.email_domain, candidates.company_domain):
        name = ascii_domain(raw) if raw else None
        for domain in domain_and_parents(name) if name else ():
            if domain not in domains:
                domains.append(domain)
    email = candidates.email.strip().lower() if candidates.email else None
    return HitLookup(
        emails=(email,) if email else (),
        domains=tuple(domains),
        ip=canonical_address(candidates.ip) if candidates.ip is not None else None,
        devices=(candidates.device_id,) if candidates.device_id else (),
        bins=tuple(bin_prefixes(candidates.card_bin)) if candidates.card_bin else (),
        phones=(candidates.phone,) if candidates.phone else (),
        tenants=(str(candidates.tenant_id),) if candidates.tenant_id else (),
    )


def list_hits(rows: Sequence[HitRow]) -> tuple[ListHit, ...]:
    """The rules engine's view of the entries ``hit_lookup`` found."""
    return tuple(
        ListHit(list=ListName(r.list), kind=ListKind(r.kind), value=r.value, reason=r.reason)
        for r in rows
    )


async def add_entry(
    session: AsyncSession, partner_id: uuid.UUID, entry: ListEntryIn, actor: str
) -> ListEntry:
    """Add a validated entry (``value`` already canonical); ``Conflict`` when the partner
    already has the same value of the same kind on the same list."""
    row = await ListEntryRepository(session).insert_new(
        partner_id,
        list_name=entry.list,
        kind=entry.kind,
        value=entry.value,
        network=network_of(entry.value) if entry.kind is ListKind.IP else None,
        reason=entry.reason,
        expires_at=entry.expires_at,
        created_by=actor,
    )
    if row is None:
        raise Conflict(
            f"the {entry.list.value} list already has the {entry.kind.value} entry {entry.value!r}"
        )
    # The value itself is left out: e-mail addresses and phone numbers are personal data.
    log.info(
        "list_entry.added",
        entry_id=str(row.id),
        partner_id=str(partner_id),
        list=row.list,
        kind=row.kind,
    )
    return row


async def get_entry(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> ListEntry:
    """The partner's entry ``id_``; ``NotFound`` for none, and for another partner's."""
    entry = await ListEntryRepository(session).get(partner_id, id_)
    if entry is None:
        raise NotFound("no such list entry")
    return entry


async def list_entries(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    list_name: ListName | None,
    kind: ListKind | None,
    include_expired: bool,
    now: datetime,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[ListEntry]:
    """Up to ``limit + 1`` of the partner's entries in id order, after ``after``."""
    return await ListEntryRepository(session).page(
        partner_id,
        list_name=list_name,
        kind=kind,
        unexpired_at=None if include_expired else now,
        limit=limit,
        after=after,
    )


async def remove_entry(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> None:
    """Delete the partner's entry ``id_`` (it stops matching at once); ``NotFound`` otherwise."""
    if not await ListEntryRepository(session).remove(partner_id, id_):
        raise NotFound("no such list entry")
    log.info("list_entry.removed", entry_id=str(id_), partner_id=str(partner_id))
