"""Writing to and checking the audit log: the one way every module records what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database
from partnerguard.common.ids import new_id
from partnerguard.enforcement.audit.chain import GENESIS, entry_hash
from partnerguard.enforcement.audit.repository import AuditRepository
from partnerguard.enforcement.models import AuditEntry, PendingAuditEntry

# Entries appended per transaction: the chain is held for one batch at a time.
CHAIN_BATCH = 500


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
    """Record an entry in the caller's transaction: it exists only if the action commits.

    It is chained into the partner's log by :func:`chain_pending` soon after (the chaining job;
    reading the log chains first), not here. Chaining needs the partner's chain to itself;
    taken by every transaction that records something, that lock would make all of the
    partner's event handlers, vendor calls and API writes wait on each other, where the
    chainer takes it once per batch. Entries keep the order they were recorded in.
    """
    session.add(
        PendingAuditEntry(
            id=new_id(),
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


async def chain_pending(
    session: AsyncSession, partner_id: uuid.UUID, *, limit: int | None = CHAIN_BATCH
) -> int:
    """Append up to ``limit`` (None: all) of the partner's committed pending entries to its
    chain, in the order recorded; the number appended. Holds the partner's chain until the transaction
    ends, so chainers (every replica's job, a reader) never interleave."""
    repository = AuditRepository(session)
    await repository.lock_chain(partner_id)
    pending = await repository.pending(partner_id, limit)
    if not pending:
        return 0
    last = await repository.last(partner_id)
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
    for entry in pending:
        seq += 1
        chained = _chained(entry, seq, prev_hash)
        session.add(chained)
        prev_hash = chained.hash
    await repository.forget_pending([entry.position for entry in pending])
    await session.flush()
    await repository.advance_head(partner_id, seq, prev_hash)
    return len(pending)


async def chain_everything(db: Database, *, limit: int = CHAIN_BATCH) -> int:
    """Chain every partner's pending entries (the chaining job); the number appended."""
    async with db.sweep_session() as session:
        partners = await AuditRepository(session).partners_with_pending()
    appended = 0
    for partner_id in partners:
        while True:
            async with db.sweep_session() as session:
                count = await chain_pending(session, partner_id, limit=limit)
            appended += count
            if count < limit:
                break
    return appended


def _chained(pending: PendingAuditEntry, seq: int, prev_hash: str) -> AuditEntry:
    entry = AuditEntry(
        partner_id=pending.partner_id,
        seq=seq,
        id=pending.id,
        actor=pending.actor,
        action=pending.action,
        subject_type=pending.subject_type,
        subject_id=pending.subject_id,
        reason=pending.reason,
        evidence=pending.evidence,
        at=pending.at,
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
    """Recompute the whole chain: any changed, removed or reordered entry is found, and so are
    entries cut from its end (the chain's head, moved forward as entries are chained, then
    points past the last one left)."""
    repository = AuditRepository(session)
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    async for entry in repository.in_order(partner_id):
        count += 1
        if entry.seq != expected_seq:
            return Verification(False, count, entry.seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return Verification(False, count, entry.seq, "the link to the previous entry is broken")
        if _hash_of(entry) != entry.hash:
            return Verification(False, count, entry.seq, "the entry's content was changed")
        expected_prev = entry.hash
        expected_seq += 1
    head = await repository.head(partner_id)
    last_seq = expected_seq - 1
    if head is None:
        if count:
            return Verification(False, count, 1, "the chain's head is missing")
        return Verification(True, count)
    if head.seq > last_seq:
        return Verification(
            False, count, last_seq + 1, f"entries {last_seq + 1} to {head.seq} are missing"
        )
    if head.seq < last_seq or head.hash != expected_prev:
        return Verification(False, count, head.seq, "the chain does not end at its head")
    return Verification(True, count)
