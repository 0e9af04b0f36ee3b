"""Approving and rejecting policy actions that wait for a person, and lapsing old requests.

With two approvers required, the second must be another client than the first. Once enough
approvals are in, the action is carried out by the same executor as automatic actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database
from partnerguard.common.errors import Conflict, NotFound
from partnerguard.common.pagination import PageParams
from partnerguard.enforcement.approvals.repository import ApprovalRepository
from partnerguard.enforcement.approvals.schemas import Approval, ApprovalOut, ApprovalStatus
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.models import PendingAction
from partnerguard.enforcement.policies.engine import carry_out
from partnerguard.enforcement.policies.rules import Plan

log = structlog.get_logger()


def present(row: PendingAction) -> ApprovalOut:
    return ApprovalOut(
        id=row.id,
        status=ApprovalStatus(row.status),
        action=row.action,
        rule=row.rule,
        policy_version=row.policy_version,
        plan=Plan.model_validate(row.params),
        customer_id=row.customer_id,
        source_event_id=row.source_event_id,
        required_approvals=row.required_approvals,
        approvals=[Approval.model_validate(a) for a in row.approvals],
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


async def list_approvals(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    status: ApprovalStatus | None,
    params: PageParams,
) -> Sequence[PendingAction]:
    return await ApprovalRepository(session).page(
        partner_id,
        status=status.value if status else None,
        limit=params.limit,
        after=params.after_id,
    )


async def get_approval(
    session: AsyncSession, partner_id: uuid.UUID, approval_id: uuid.UUID
) -> PendingAction:
    row = await ApprovalRepository(session).get(partner_id, approval_id)
    if row is None:
        raise NotFound("no such approval request")
    return row


async def _open_request(
    session: AsyncSession, partner_id: uuid.UUID, approval_id: uuid.UUID, now: datetime
) -> PendingAction:
    row = await ApprovalRepository(session).locked(partner_id, approval_id)
    if row is None:
        raise NotFound("no such approval request")
    if row.status != ApprovalStatus.PENDING:
        raise Conflict(f"the request is already {row.status}")
    if row.expires_at is not None and row.expires_at <= now:
        raise Conflict("the request has expired")
    return row


async def approve(
    session: AsyncSession,
    partner_id: uuid.UUID,
    approval_id: uuid.UUID,
    *,
    approver: str,
    note: str | None,
    now: datetime,
) -> PendingAction:
    """Add ``approver``'s approval; with enough of them, carry the action out (status approved).
    409 when decided, expired, or already approved by this client."""
    row = await _open_request(session, partner_id, approval_id, now)
    if any(given.get("by") == approver for given in row.approvals):
        raise Conflict("this client has approved already; another approver must confirm")
    approvals = [*row.approvals, {"by": approver, "at": now.isoformat(), "note": note}]
    row.approvals = approvals
    complete = len(approvals) >= row.required_approvals
    await record(
        session,
        partner_id,
        actor=approver,
        action="approval.approved" if complete else "approval.partially_approved",
        subject_type="pending_action",
        subject_id=row.id,
        at=now,
        reason=note,
        evidence={
            "rule": row.rule,
            "approvals": len(approvals),
            "required_approvals": row.required_approvals,
        },
    )
    if complete:
        row.status = ApprovalStatus.APPROVED.value
        row.decided_by = approver
        row.decided_at = now
        row.decision_note = note
        if row.customer_id is not None:
            await carry_out(
                session,
                partner_id,
                Plan.model_validate(row.params),
                customer_id=row.customer_id,
                source_event_id=row.source_event_id,
                actor=approver,
                now=now,
                note=note or f"approved under policy rule {row.rule}",
            )
    await session.flush()
    log.info("approval.approved", approval_id=str(row.id), complete=complete)
    return row


async def reject(
    session: AsyncSession,
    partner_id: uuid.UUID,
    approval_id: uuid.UUID,
    *,
    approver: str,
    note: str | None,
    now: datetime,
) -> PendingAction:
    """Reject the request: nothing is carried out (409 when decided or expired)."""
    row = await _open_request(session, partner_id, approval_id, now)
    row.status = ApprovalStatus.REJECTED.value
    row.decided_by = approver
    row.decided_at = now
    row.decision_note = note
    await record(
        session,
        partner_id,
        actor=approver,
        action="approval.rejected",
        subject_type="pending_action",
        subject_id=row.id,
        at=now,
        reason=note,
        evidence={"rule": row.rule},
    )
    await session.flush()
    log.info("approval.rejected", approval_id=str(row.id))
    return row


async def expire_lapsed(db: Database, now: datetime, *, batch: int = 200) -> int:
    """Mark every pending request past its expiry as expired (all partners); how many."""
    async with db.sweep_session() as session:
        rows = await ApprovalRepository(session).lapsed(now, limit=batch)
        for row in rows:
            row.status = ApprovalStatus.EXPIRED.value
            row.decided_by = "system:expiry"
            row.decided_at = now
            await record(
                session,
                row.partner_id,
                actor="system:expiry",
                action="approval.expired",
                subject_type="pending_action",
                subject_id=row.id,
                at=now,
                reason="no decision before the request lapsed",
                evidence={"rule": row.rule, "expires_at": str(row.expires_at)},
            )
        await session.flush()
    if rows:
        log.info("approval.expired", count=len(rows))
    return len(rows)
