"""Writing to and checking the audit log: the one way every module records what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.ids import new_id
from partnerguard.enforcement.audit.chain import GENESIS, entry_hash
from partnerguard.enforcement.audit.repository import AuditRepository
from partnerguard.enforcement.models import AuditEntry


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
) -> AuditEntry:
    """Append an entry in the caller's transaction (it exists only if the action commits)."""
    at = at.astimezone(UTC)  # hashed as written back: the database keeps UTC
    repository = AuditRepository(session)
    await repository.lock_chain(partner_id)
    last = await repository.last(partner_id)
    seq = last.seq + 1 if last else 1
    prev_hash = last.hash if last else GENESIS
    entry_id = new_id()
    content = evidence or {}
    entry = AuditEntry(
        partner_id=partner_id,
        seq=seq,
        id=entry_id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        reason=reason,
        evidence=content,
        at=at,
        prev_hash=prev_hash,
        hash=entry_hash(
            partner_id=partner_id,
            seq=seq,
            entry_id=entry_id,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            reason=reason,
            evidence=content,
            at=at,
            prev_hash=prev_hash,
        ),
    )
    session.add(entry)
    await session.flush()
    return entry


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
        recomputed = entry_hash(
            partner_id=partner_id,
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
        if recomputed != entry.hash:
            return Verification(False, count, entry.seq, "the entry's content was changed")
        expected_prev = entry.hash
        expected_seq += 1
    return Verification(True, count)
