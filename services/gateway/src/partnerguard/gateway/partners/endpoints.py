"""HTTP: partners, for the platform operator (``platform:*`` scopes, role platform_admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from partnerguard.common.auth import Caller
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep, caller_with
from partnerguard.gateway.access import RateLimited
from partnerguard.gateway.partners import service
from partnerguard.gateway.partners.schemas import PartnerCreate, PartnerOut

router = APIRouter(
    prefix="/v1/partners",
    tags=["partners"],
    responses=PROBLEM_RESPONSES,
    dependencies=[RateLimited],
)


@router.post("", status_code=201, response_model=PartnerOut, summary="Create a partner")
async def create_partner(
    body: PartnerCreate,
    session: SessionDep,
    caller: Annotated[Caller, caller_with("platform:write")],
) -> PartnerOut:
    partner = await service.create_partner(session, body.name)
    return PartnerOut.model_validate(partner)


@router.get("", response_model=Page[PartnerOut], summary="List partners")
async def list_partners(
    session: SessionDep,
    caller: Annotated[Caller, caller_with("platform:read")],
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[PartnerOut]:
    rows = await service.list_partners(session, params.limit, params.after_id)
    return make_page([PartnerOut.model_validate(r) for r in rows], params, lambda p: p.id)


@router.get("/{partner_id}", response_model=PartnerOut, summary="Get a partner")
async def get_partner(
    partner_id: uuid.UUID,
    session: SessionDep,
    caller: Annotated[Caller, caller_with("platform:read")],
) -> PartnerOut:
    return PartnerOut.model_validate(await service.get_partner(session, partner_id))
