"""Writing to and checking the audit log: the one way every module records what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import before_commit
from partnerguard.common.ids import new_id
from partnerguard.enforcement.audit.chain import GENESIS, entry_hash
from partnerguard.enforcement.audit.repository import AuditRepository
from partnerguard.enforcement.models import AuditEntry

_PENDING = "enforcement.audit.pending"


@dataclass(frozen=True)
class _Draft:
    partner_id: uuid.UUID
    actor: str
    action: str
    subject_type: str
    subject_id: str
    at: datetime
    reason: str | None
    evidence: dict[str, Any]


async def record(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | str,
    at: datetime,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction: it exists only if the action commits.

    Entries are chained at the end of the transaction, just before it commits: the partner's
    chain is locked for the append and the commit only, not for the whole unit of work, so
    every writer of the partner (event handlers, the provider's runner, the API) does not wait
    on the slowest one. Within a transaction they keep the order they were recorded in.
    """
    pending: list[_Draft] = session.info.setdefault(_PENDING, [])
    pending.append(
        _Draft(
            partner_id=partner_id,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            # Hashed as written back: the database keeps UTC.
            at=at.astimezone(UTC),
            reason=reason,
            evidence=evidence or {},
        )
    )
    before_commit(session, _append_pending)


async def _append_pending(session: AsyncSession) -> None:
    drafts: list[_Draft] = session.info.pop(_PENDING, [])
    repository = AuditRepository(session)
    # Chains locked in one order, so two transactions that touch two partners cannot deadlock.
    for partner_id in sorted({d.partner_id for d in drafts}):
        await repository.lock_chain(partner_id)
        last = await repository.last(partner_id)
        seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
        for draft in (d for d in drafts if d.partner_id == partner_id):
            seq += 1
            entry = _chained(draft, seq, prev_hash)
            session.add(entry)
            prev_hash = entry.hash
    await session.flush()


def _chained(draft: _Draft, seq: int, prev_hash: str) -> AuditEntry:
    entry = AuditEntry(
        partner_id=draft.partner_id,
        seq=seq,
        id=new_id(),
        actor=draft.actor,
        action=draft.action,
        subject_type=draft.subject_type,
        subject_id=draft.subject_id,
        reason=draft.reason,
        evidence=draft.evidence,
        at=draft.at,
        prev_hash=prev_hash,
    )
    entry.hash = _hash_of(entry)
    return entry


def _hash_of(entry: AuditEntry) -> str:
    """The hash of ``entry``'s content and link, as chained and as verified."""
    return entry_hash(
        partner_id=entry.partner_id,
        seq=entry.seq,
        entry_id=entry.id,
        actor=entry.actor,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        reason=entry.reason,
        evidence=entry.evidence,
        at=entry.at.astimezone(UTC),
        prev_hash=entry.prev_hash,
    )


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    # The first entry whose content or link does not match its hash, when one does not.
    first_broken_seq: int | None = None
    problem: str | None = None


async def verify(session: AsyncSession, partner_id: uuid.UUID) -> Verification:
    """Recompute the whole chain: any changed, removed or reordered entry is found."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    async for entry in AuditRepository(session).in_order(partner_id):
        count += 1
        if entry.seq != expected_seq:
            return Verification(False, count, entry.seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return Verification(False, count, entry.seq, "the link to the previous entry is broken")
        if _hash_of(entry) != entry.hash:
            return Verification(False, count, entry.seq, "the entry's content was changed")
        expected_prev = entry.hash
        expected_seq += 1
    return Verification(True, count)
