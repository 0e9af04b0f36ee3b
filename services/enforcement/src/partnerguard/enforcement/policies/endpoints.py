"""HTTP: policies — the rules in force, new versions, their history, and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.deps import Reader, Writer
from partnerguard.enforcement.policies import service
from partnerguard.enforcement.policies.schemas import PolicyIn, PolicyOut, ReplayIn, ReplayOut

router = APIRouter(prefix="/v1/enforcement", tags=["policies"], responses=PROBLEM_RESPONSES)

# Versions are stored as PostgreSQL integers: a larger number names no version, and must not
# reach the database (where it overflows).
_MAX_VERSION = 2**31 - 1


@router.get(
    "/policies",
    response_model=PolicyOut,
    summary="The policy in force",
    description="The newest saved version, or the defaults (version 0) after the vendor's "
    "guidance when none was saved.",
)
async def get_policy(caller: Reader, session: SessionDep) -> PolicyOut:
    return await service.current_policy(session, caller.partner_id)


@router.put(
    "/policies",
    response_model=PolicyOut,
    summary="Save a new policy version",
    description="Replaces the rules as a whole; the new version is in force for events handled "
    "from now on. Rules are validated (conditions must apply to the rule's event type, names "
    "unique, only hold actions may wait for approval): a bad policy is a 422 and nothing is "
    "saved. Try it first with the replay call.",
)
async def put_policy(body: PolicyIn, caller: Writer, session: SessionDep) -> PolicyOut:
    return await service.save_policy(
        session, caller.partner_id, body, actor=caller.client_id, now=datetime.now(UTC)
    )


@router.get(
    "/policies/versions",
    response_model=Page[PolicyOut],
    summary="Saved policy versions",
    description="Oldest first; version 0 (the defaults) is not stored, read it at "
    "`/policies/versions/0`.",
)
async def list_versions(
    caller: Reader, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> Page[PolicyOut]:
    versions, ids = await service.list_versions(session, caller.partner_id, params)
    keys = dict(zip((v.version for v in versions), ids, strict=True))
    return make_page(versions, params, lambda v: keys[v.version])


@router.get("/policies/versions/{version}", response_model=PolicyOut, summary="One policy version")
async def get_version(
    version: Annotated[int, Path(ge=0, le=_MAX_VERSION)], caller: Reader, session: SessionDep
) -> PolicyOut:
    return await service.get_version(session, caller.partner_id, version)


@router.post(
    "/policies/replay",
    response_model=ReplayOut,
    summary="Replay a proposed policy over past events",
    description="For each event received since `since` (oldest first, at most `limit`), what "
    "the proposed rules would do against the policy in force. Nothing is saved or carried out.",
)
async def replay(body: ReplayIn, caller: Reader, session: SessionDep) -> ReplayOut:
    return await service.replay_policy(session, caller.partner_id, body)
