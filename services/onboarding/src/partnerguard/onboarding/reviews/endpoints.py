"""HTTP: the review queue, claims, and reviewers' decisions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.applications.endpoints import customer_out, present
from partnerguard.onboarding.applications.repository import ApplicationRepository
from partnerguard.onboarding.applications.schemas import CustomerOut
from partnerguard.onboarding.deps import Reader, Writer
from partnerguard.onboarding.reviews import service
from partnerguard.onboarding.reviews.schemas import ClaimIn, DecisionIn
from partnerguard.onboarding.risk_policy.service import policy_in_force

router = APIRouter(prefix="/v1/onboarding", tags=["reviews"], responses=PROBLEM_RESPONSES)


@router.get(
    "/reviews",
    response_model=Page[CustomerOut],
    summary="The review queue",
    description="Applications in review, and hard rejects whose override waits for a second "
    "reviewer; oldest first.",
)
async def review_queue(
    session: SessionDep,
    caller: Reader,
    params: Annotated[PageParams, Depends(page_params)],
    claimed_by: Annotated[str | None, Query(max_length=200)] = None,
    unclaimed: bool = False,
) -> Page[CustomerOut]:
    rows = await ApplicationRepository(session).review_queue(
        caller.partner_id, claimed_by, unclaimed, params.limit, params.after_id
    )
    in_force = await policy_in_force(session, caller.partner_id)
    return make_page([customer_out(r, in_force) for r in rows], params, lambda c: c.application_id)


@router.post(
    "/customers/{customer_id}/claim", response_model=CustomerOut, summary="Claim for review"
)
async def claim(
    customer_id: uuid.UUID, body: ClaimIn, session: SessionDep, caller: Writer
) -> CustomerOut:
    application = await service.claim(
        session, caller.partner_id, customer_id, body.reviewer, caller.client_id
    )
    return await present(session, application)


@router.delete(
    "/customers/{customer_id}/claim", response_model=CustomerOut, summary="Release a claim"
)
async def release(
    customer_id: uuid.UUID,
    session: SessionDep,
    caller: Writer,
    reviewer: Annotated[str, Query(min_length=1, max_length=200)],
) -> CustomerOut:
    application = await service.release(
        session, caller.partner_id, customer_id, reviewer, caller.client_id
    )
    return await present(session, application)


@router.post(
    "/customers/{customer_id}/decision",
    response_model=CustomerOut,
    summary="Decide an application",
    description="Approve or reject a claimed application in review, or overturn an automatic "
    "rejection. Overriding a hard reject takes two different reviewers: the first approval is "
    "recorded as `override_requested_by`, the second approves. Approval requires the "
    "customer's acceptance of the collections policy.",
)
async def decide(
    customer_id: uuid.UUID, body: DecisionIn, session: SessionDep, caller: Writer
) -> CustomerOut:
    application = await service.decide(
        session, caller.partner_id, customer_id, body, caller.client_id
    )
    return await present(session, application)
