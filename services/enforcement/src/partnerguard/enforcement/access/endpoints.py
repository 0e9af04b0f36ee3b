"""HTTP: the access gate."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.access import service
from partnerguard.enforcement.access.schemas import AccessGrantIn, AccessGrantOut
from partnerguard.enforcement.deps import Writer

router = APIRouter(prefix="/v1/enforcement", tags=["access"], responses=PROBLEM_RESPONSES)


@router.post(
    "/access-grants",
    response_model=AccessGrantOut,
    summary="Evaluate a request for full administrative access",
    description="Checks the customer against the required controls — MFA attested, budget set, "
    "prepayment cleared, no active hold on it or its subscriptions, account age (days since "
    "approval, 30 by default), risk tier (low or medium by default) — and answers `allow` or "
    "`deny` with every control missing. The body may narrow the controls and change the "
    "thresholds. Nothing is granted here; each evaluation is audited. A customer the "
    "registry does not hold is a 404.",
)
async def evaluate_access(
    body: AccessGrantIn, caller: Writer, session: SessionDep
) -> AccessGrantOut:
    return await service.evaluate_access(
        session, caller.partner_id, body, caller.client_id, datetime.now(UTC)
    )
