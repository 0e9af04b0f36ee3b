"""HTTP: approvals — the policy actions waiting for a person, approved or rejected with a note."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.approvals import service
from partnerguard.enforcement.approvals.schemas import ApprovalOut, ApprovalStatus, DecisionIn
from partnerguard.enforcement.deps import Approver, Reader

router = APIRouter(prefix="/v1/enforcement", tags=["approvals"], responses=PROBLEM_RESPONSES)


@router.get("/approvals", response_model=Page[ApprovalOut], summary="List approval requests")
async def list_approvals(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        ApprovalStatus | None, Query(description="Only requests in this status.")
    ] = None,
) -> Page[ApprovalOut]:
    rows = await service.list_approvals(session, caller.partner_id, status=status, params=params)
    return make_page([service.present(row) for row in rows], params, lambda a: a.id)


@router.get(
    "/approvals/{approval_id}", response_model=ApprovalOut, summary="Get an approval request"
)
async def get_approval(approval_id: uuid.UUID, caller: Reader, session: SessionDep) -> ApprovalOut:
    return service.present(await service.get_approval(session, caller.partner_id, approval_id))


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalOut,
    summary="Approve a pending action",
    description="Needs `enforcement:approve`. When the rule asks for two approvers, the second "
    "must be another client (the same one again is a 409). Once enough approvals are in, the "
    "action is carried out and the request is `approved`. Decided or expired requests: 409.",
)
async def approve(
    approval_id: uuid.UUID, body: DecisionIn, caller: Approver, session: SessionDep
) -> ApprovalOut:
    row = await service.approve(
        session,
        caller.partner_id,
        approval_id,
        approver=caller.client_id,
        note=body.note,
        now=datetime.now(UTC),
    )
    return service.present(row)


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=ApprovalOut,
    summary="Reject a pending action",
    description="Needs `enforcement:approve`. Nothing is carried out. Decided or expired: 409.",
)
async def reject(
    approval_id: uuid.UUID, body: DecisionIn, caller: Approver, session: SessionDep
) -> ApprovalOut:
    row = await service.reject(
        session,
        caller.partner_id,
        approval_id,
        approver=caller.client_id,
        note=body.note,
        now=datetime.now(UTC),
    )
    return service.present(row)
