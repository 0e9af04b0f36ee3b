"""HTTP: cases — open, read, list, add to the timeline, set the fraud window, file the one-time
credit request, close."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.enforcement import CaseKind
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.cases import service
from partnerguard.enforcement.cases.schemas import (
    CaseDetail,
    CaseIn,
    CaseOut,
    CaseStatus,
    CloseIn,
    CreditRequestIn,
    EntryIn,
    FraudWindowIn,
)
from partnerguard.enforcement.deps import Reader, Writer
from partnerguard.enforcement.models import Case

router = APIRouter(prefix="/v1/enforcement", tags=["cases"], responses=PROBLEM_RESPONSES)


def _now() -> datetime:
    return datetime.now(UTC)


async def _detail(session: AsyncSession, case: Case, now: datetime) -> CaseDetail:
    (out,) = await service.present(session, case.partner_id, [case], now.date())
    return CaseDetail(**out.model_dump(), timeline=await service.timeline(session, case))


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseDetail,
    summary="Open a case",
    description="Open a case by hand for a customer of the registry (another partner's is a 404). "
    "Cases also open from alerts and notices by policy. An account-compromise case carries the "
    "one-time credit: give `first_fraudulent_usage_on` to start its 60-day clock. Emits "
    "`enforcement.case.opened`. Send an `Idempotency-Key` to retry safely.",
)
async def open_case(
    body: CaseIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    now = _now()
    case = await service.open_case(session, caller.partner_id, body, caller.client_id, now)
    return await idem.respond(await _detail(session, case, now), 201)


@router.get("/cases", response_model=Page[CaseOut], summary="List cases")
async def list_cases(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[CaseStatus | None, Query(description="Only open (or closed) ones.")] = None,
    kind: Annotated[CaseKind | None, Query(description="Only this kind.")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
) -> Page[CaseOut]:
    rows = await service.list_cases(
        session,
        caller.partner_id,
        status=status,
        kind=kind,
        customer_id=customer_id,
        limit=params.limit,
        after=params.after_id,
    )
    shown = await service.present(session, caller.partner_id, rows, _now().date())
    return make_page(shown, params, lambda c: c.id)


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    summary="Get a case with its timeline",
    description="The credit view says, as of today (UTC), the deadline, the days left, whether "
    "the request could be filed now and why not, and whether it was filed.",
)
async def get_case(case_id: uuid.UUID, caller: Reader, session: SessionDep) -> CaseDetail:
    case = await service.get_case(session, caller.partner_id, case_id)
    return await _detail(session, case, _now())


@router.post(
    "/cases/{case_id}/entries",
    status_code=201,
    response_model=CaseDetail,
    summary="Add evidence, a note or a verification to the timeline",
    description="A `verification` entry verifies an account compromise (the credit needs it). "
    "A closed case is a 409.",
)
async def add_entry(
    case_id: uuid.UUID, body: EntryIn, caller: Writer, session: SessionDep
) -> CaseDetail:
    now = _now()
    case = await service.add_entry(session, caller.partner_id, case_id, body, caller.client_id, now)
    return await _detail(session, case, now)


@router.post(
    "/cases/{case_id}/fraud-window",
    response_model=CaseDetail,
    summary="Set the first usage date of the fraudulent activity",
    description="Sets or corrects the date; the deadline (that date + 60 days) and the "
    "eligibility follow, and the reminders start over. A future date is a 422; a closed case, "
    "or one whose credit request is filed, a 409.",
)
async def set_fraud_window(
    case_id: uuid.UUID, body: FraudWindowIn, caller: Writer, session: SessionDep
) -> CaseDetail:
    now = _now()
    case = await service.set_fraud_window(
        session, caller.partner_id, case_id, body.first_fraudulent_usage_on, caller.client_id, now
    )
    return await _detail(session, case, now)


@router.post(
    "/cases/{case_id}/credit-request",
    status_code=201,
    response_model=CaseDetail,
    summary="Record the filing of the one-time compromise credit request",
    description="Recorded only if it may be filed today: a verified account compromise, "
    "activity from 2023-04-01, new-commerce subscriptions of the customer, on or before the "
    "deadline (day 60 after the first usage date). Otherwise a 422 that lists every reason. "
    "Once per customer tenant: a second request, from any case, is a 409.",
)
async def request_credit(
    case_id: uuid.UUID, body: CreditRequestIn, caller: Writer, session: SessionDep
) -> CaseDetail:
    now = _now()
    await service.request_credit(session, caller.partner_id, case_id, body, caller.client_id, now)
    case = await service.get_case(session, caller.partner_id, case_id)
    return await _detail(session, case, now)


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseDetail,
    summary="Close a case with its outcome",
    description="Emits `enforcement.case.closed`. `credit_granted` and `credit_denied` need the "
    "case's filed credit request (422 otherwise); a closed case is a 409.",
)
async def close_case(
    case_id: uuid.UUID, body: CloseIn, caller: Writer, session: SessionDep
) -> CaseDetail:
    now = _now()
    case = await service.close_case(
        session,
        caller.partner_id,
        case_id,
        outcome=body.outcome,
        note=body.note,
        actor=caller.client_id,
        now=now,
    )
    return await _detail(session, case, now)
