"""HTTP: the audit log — read it newest first, and verify its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import MAX_LIMIT
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.audit.log import chain_pending, verify
from partnerguard.enforcement.audit.repository import AuditRepository
from partnerguard.enforcement.audit.schemas import (
    AuditEntryOut,
    AuditPage,
    VerificationOut,
    decode_cursor,
    encode_cursor,
)
from partnerguard.enforcement.deps import Reader

router = APIRouter(prefix="/v1/enforcement", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Read the audit log",
    description="Every enforcement action, newest first (by sequence number), optionally of "
    "one subject (e.g. `subject_type=case&subject_id=<id>`). Actions committed before the "
    "request are all there: entries still waiting for the chaining job are chained first.",
)
async def list_audit(
    caller: Reader,
    session: SessionDep,
    subject_type: Annotated[str | None, Query(max_length=100)] = None,
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries per page.")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="From `next_cursor`.")] = None,
) -> AuditPage:
    await chain_pending(session, caller.partner_id, limit=None)
    rows = await AuditRepository(session).page(
        caller.partner_id,
        limit=limit,
        before_seq=decode_cursor(cursor) if cursor else None,
        subject_type=subject_type,
        subject_id=subject_id,
    )
    shown = rows[:limit]
    more = len(rows) > limit
    return AuditPage(
        items=[
            AuditEntryOut(
                seq=e.seq,
                id=e.id,
                actor=e.actor,
                action=e.action,
                subject_type=e.subject_type,
                subject_id=e.subject_id,
                reason=e.reason,
                evidence=e.evidence,
                at=e.at,
                prev_hash=e.prev_hash,
                hash=e.hash,
            )
            for e in shown
        ],
        next_cursor=encode_cursor(shown[-1].seq) if more and shown else None,
    )


@router.post(
    "/audit/verify",
    response_model=VerificationOut,
    summary="Verify the audit log's hash chain",
    description="Recomputes the partner's whole chain: an entry changed, removed or reordered "
    "(including entries cut from its end, which its recorded head still counts) "
    "behind the application's back makes it not intact, with the first broken sequence number. "
    "Entries still waiting for the chaining job are chained first, so the check covers every "
    "action committed before the request (enforcement:read: this appends, never changes).",
)
async def verify_audit(caller: Reader, session: SessionDep) -> VerificationOut:
    await chain_pending(session, caller.partner_id, limit=None)
    result = await verify(session, caller.partner_id)
    return VerificationOut(
        intact=result.intact,
        entries=result.entries,
        first_broken_seq=result.first_broken_seq,
        problem=result.problem,
    )
