"""HTTP: holds — place, read, list, release."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.enforcement import HoldReason
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.deps import Reader, Writer
from partnerguard.enforcement.holds import service
from partnerguard.enforcement.holds.schemas import HoldIn, HoldOut, HoldRelease
from partnerguard.enforcement.holds.status import HoldStatus

router = APIRouter(prefix="/v1/enforcement", tags=["holds"], responses=PROBLEM_RESPONSES)


def actor_of(client_id: str) -> str:
    return f"client:{client_id}"


@router.post(
    "/holds",
    status_code=201,
    response_model=HoldOut,
    responses={200: {"model": HoldOut, "description": "The same hold was already active."}},
    summary="Place a hold",
    description="Hold a customer (every subscription) or one subscription for a reason. Its "
    "subscriptions are suspended while any active hold covers them. Placing an active hold "
    "again answers the one in force with 200. Send an `Idempotency-Key` to retry safely.",
)
async def create_hold(
    body: HoldIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    hold, created = await service.place_hold(
        session,
        caller.partner_id,
        customer_id=body.customer_id,
        subscription_id=body.subscription_id,
        reason=body.reason,
        actor=actor_of(caller.client_id),
        now=datetime.now(UTC),
        note=body.note,
    )
    return await idem.respond(HoldOut.of(hold), 201 if created else 200)


@router.get("/holds", response_model=Page[HoldOut], summary="List holds, newest first")
async def list_holds(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    subscription_id: Annotated[
        uuid.UUID | None, Query(description="Only holds on this subscription.")
    ] = None,
    reason: Annotated[HoldReason | None, Query()] = None,
    status: Annotated[HoldStatus | None, Query()] = None,
) -> Page[HoldOut]:
    rows = await service.list_holds(
        session,
        caller.partner_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        reason=reason,
        status=status,
        limit=params.limit,
        before=params.after_id,
    )
    page = make_page(rows, params, lambda h: h.id)
    return Page(items=[HoldOut.of(h) for h in page.items], next_cursor=page.next_cursor)


@router.get("/holds/{hold_id}", response_model=HoldOut, summary="Get a hold")
async def get_hold(hold_id: uuid.UUID, caller: Reader, session: SessionDep) -> HoldOut:
    return HoldOut.of(await service.get_hold(session, caller.partner_id, hold_id))


@router.post(
    "/holds/{hold_id}/release",
    response_model=HoldOut,
    summary="Release a hold",
    description="The note says why. Covered subscriptions are reinstated only when no other "
    "active hold covers them. Releasing a released hold is a 409.",
)
async def release(
    hold_id: uuid.UUID, body: HoldRelease, caller: Writer, session: SessionDep
) -> HoldOut:
    hold = await service.release_hold(
        session,
        caller.partner_id,
        hold_id,
        actor=actor_of(caller.client_id),
        now=datetime.now(UTC),
        note=body.note,
    )
    return HoldOut.of(hold)
