"""HTTP: the partner's collections policy — publish a version, read the current one and the past."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.collections import service
from partnerguard.onboarding.collections.schemas import CollectionsPolicyIn, CollectionsPolicyOut
from partnerguard.onboarding.deps import Reader, Writer

router = APIRouter(
    prefix="/v1/onboarding/collections-policy",
    tags=["collections-policy"],
    responses=PROBLEM_RESPONSES,
)


@router.put(
    "",
    status_code=201,
    response_model=CollectionsPolicyOut,
    summary="Publish a new version of the collections policy",
    description="Becomes the current version, which new customers accept; earlier versions "
    "stay, and customers who accepted them are held to them. A version name already "
    "published is a 409: published versions never change. Send an `Idempotency-Key` to "
    "retry safely.",
)
async def publish_policy(
    body: CollectionsPolicyIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    row = await service.publish_policy(session, caller.partner_id, body, caller.client_id)
    return await idem.respond(CollectionsPolicyOut.model_validate(row), 201)


@router.get("", response_model=CollectionsPolicyOut, summary="The current collections policy")
async def get_current_policy(caller: Reader, session: SessionDep) -> CollectionsPolicyOut:
    row = await service.require_current_policy(session, caller.partner_id)
    return CollectionsPolicyOut.model_validate(row)


@router.get(
    "/versions",
    response_model=Page[CollectionsPolicyOut],
    summary="Published versions, newest first",
)
async def list_versions(
    caller: Reader, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> Page[CollectionsPolicyOut]:
    rows = await service.list_versions(session, caller.partner_id, params.limit, params.after_id)
    return make_page([CollectionsPolicyOut.model_validate(r) for r in rows], params, lambda p: p.id)


@router.get(
    "/versions/{version}", response_model=CollectionsPolicyOut, summary="One published version"
)
async def get_version(
    version: Annotated[str, Path(max_length=64)], caller: Reader, session: SessionDep
) -> CollectionsPolicyOut:
    row = await service.require_policy_version(session, caller.partner_id, version)
    return CollectionsPolicyOut.model_validate(row)
