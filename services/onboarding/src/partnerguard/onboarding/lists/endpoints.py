"""HTTP: the partner's allow and block list entries — add, read, page through, remove."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.deps import Reader, Writer
from partnerguard.onboarding.lists import service
from partnerguard.onboarding.lists.schemas import ListEntryIn, ListEntryOut
from partnerguard.onboarding.scoring.facts import ListKind, ListName

router = APIRouter(prefix="/v1/onboarding/lists", tags=["lists"], responses=PROBLEM_RESPONSES)


@router.post(
    "/entries",
    status_code=201,
    response_model=ListEntryOut,
    summary="Add an allow- or block-list entry",
    description="The value is validated for its kind and stored in canonical form (see "
    "`value`). The same value of the same kind on the same list again is a 409. Applications "
    "scored from now on see the entry. Send an `Idempotency-Key` to retry safely.",
)
async def add_entry(
    body: ListEntryIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    entry = await service.add_entry(session, caller.partner_id, body, caller.client_id)
    return await idem.respond(ListEntryOut.model_validate(entry), 201)


@router.get("/entries", response_model=Page[ListEntryOut], summary="List entries")
async def list_entries(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    list_name: Annotated[
        ListName | None, Query(alias="list", description="Only this list.")
    ] = None,
    kind: Annotated[ListKind | None, Query(description="Only entries of this kind.")] = None,
    include_expired: Annotated[
        bool, Query(description="Also entries whose `expires_at` has passed.")
    ] = False,
) -> Page[ListEntryOut]:
    rows = await service.list_entries(
        session,
        caller.partner_id,
        list_name=list_name,
        kind=kind,
        include_expired=include_expired,
        now=datetime.now(UTC),
        limit=params.limit,
        after=params.after_id,
    )
    return make_page([ListEntryOut.model_validate(r) for r in rows], params, lambda e: e.id)


@router.get("/entries/{entry_id}", response_model=ListEntryOut, summary="Get an entry")
async def get_entry(entry_id: uuid.UUID, caller: Reader, session: SessionDep) -> ListEntryOut:
    return ListEntryOut.model_validate(
        await service.get_entry(session, caller.partner_id, entry_id)
    )


@router.delete(
    "/entries/{entry_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an entry",
    description="It stops matching at once; applications already scored keep their hits.",
)
async def remove_entry(entry_id: uuid.UUID, caller: Writer, session: SessionDep) -> Response:
    await service.remove_entry(session, caller.partner_id, entry_id)
    return Response(status_code=204)
