"""HTTP: the partner's risk policy — read it, save a new version, replay a proposal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.deps import Reader, Writer
from partnerguard.onboarding.models import RiskPolicyVersion
from partnerguard.onboarding.risk_policy import service
from partnerguard.onboarding.risk_policy.repository import RiskPolicyRepository
from partnerguard.onboarding.risk_policy.schemas import ReplayIn, RiskPolicyIn, RiskPolicyOut
from partnerguard.onboarding.scoring import ReplayReport, RiskPolicy

router = APIRouter(
    prefix="/v1/onboarding/risk-policy", tags=["risk-policy"], responses=PROBLEM_RESPONSES
)


def _out(row: RiskPolicyVersion) -> RiskPolicyOut:
    return RiskPolicyOut(
        version=row.version,
        policy=RiskPolicy.model_validate(row.policy),
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@router.get("", response_model=RiskPolicyOut, summary="The risk policy in force")
async def get_policy(session: SessionDep, caller: Reader) -> RiskPolicyOut:
    row = await RiskPolicyRepository(session).latest(caller.partner_id)
    if row is None:
        return RiskPolicyOut(version=service.DEFAULT_VERSION, policy=RiskPolicy())
    return _out(row)


@router.put(
    "",
    response_model=RiskPolicyOut,
    summary="Save a new version of the risk policy",
    description="Applies to applications scored from now on; earlier versions are kept. "
    "Replay a proposal first (`POST /v1/onboarding/risk-policy/replay`) to see its effect.",
)
async def put_policy(body: RiskPolicyIn, session: SessionDep, caller: Writer) -> RiskPolicyOut:
    row = await service.save_policy(
        session, caller.partner_id, body.policy, caller.client_id, body.note
    )
    return _out(row)


@router.get("/versions", response_model=list[RiskPolicyOut], summary="Saved versions, newest first")
async def list_versions(
    session: SessionDep,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    # Versions are PostgreSQL integers: a larger bound must not reach the database.
    before_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[RiskPolicyOut]:
    rows = await RiskPolicyRepository(session).versions(caller.partner_id, limit, before_version)
    return [_out(row) for row in rows[:limit]]


@router.post(
    "/replay",
    response_model=ReplayReport,
    summary="Replay a proposed policy over past applications",
    description="Scores past applications' recorded facts under the proposed policy and "
    "reports how their outcomes would change. Nothing is saved. Velocity counts are those "
    "measured at submission.",
)
async def replay(body: ReplayIn, session: SessionDep, caller: Reader) -> ReplayReport:
    return await service.replay(
        session, caller.partner_id, body.policy, body.since, body.limit, body.changes_limit
    )
