"""HTTP: dunning — the partner's policy, runs on demand, and what each invoice went through."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.deps import Reader, SettingsDep, Writer
from partnerguard.billing.dunning import service
from partnerguard.billing.dunning.policy import policy_to_stored
from partnerguard.billing.dunning.schemas import (
    DunningActionOut,
    DunningNoticeOut,
    DunningPolicyIn,
    DunningPolicyOut,
    DunningRunIn,
    DunningRunOut,
    DunningRunResult,
    NoticeStatus,
    PolicyStep,
    RunTrigger,
)
from partnerguard.billing.models import DunningNotice, DunningPolicyVersion, DunningRun
from partnerguard.billing.money import money
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.billing import DunningStep
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/billing", tags=["dunning"], responses=PROBLEM_RESPONSES)

PageDep = Annotated[PageParams, Depends(page_params)]


def _policy_out(in_force: service.PolicyInForce) -> DunningPolicyOut:
    row = in_force.row
    return DunningPolicyOut(
        version=in_force.version,
        steps=[PolicyStep.model_validate(step) for step in policy_to_stored(in_force.policy)],
        minimum_amount=in_force.policy.minimum_amount,
        is_default=row is None,
        created_by=row.created_by if row is not None else None,
        created_at=row.created_at if row is not None else None,
    )


def _version_out(row: DunningPolicyVersion) -> DunningPolicyOut:
    return DunningPolicyOut(
        version=row.version,
        steps=[PolicyStep.model_validate(step) for step in row.steps],
        minimum_amount=row.minimum_amount,
        is_default=False,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def _runs_out(session: AsyncSession, runs: list[DunningRun]) -> list[DunningRunOut]:
    counts = await service.steps_by_kind(session, runs)
    return [_run_out(run, counts.get(run.id, {})) for run in runs]


def _run_out(run: DunningRun, steps: dict[str, int]) -> DunningRunOut:
    return DunningRunOut(
        id=run.id,
        as_of=run.as_of,
        trigger=RunTrigger(run.trigger),
        requested_by=run.requested_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        steps_executed=run.steps_executed,
        steps={DunningStep(step): count for step, count in steps.items()},
        error=run.error,
    )


def _notice_out(notice: DunningNotice) -> DunningNoticeOut:
    return DunningNoticeOut(
        id=notice.id,
        account_id=notice.account_id,
        run_id=notice.run_id,
        step=DunningStep(notice.step),
        invoice_ids=list(notice.invoice_ids),
        amount_overdue=money(notice.amount_overdue, notice.currency),
        days_overdue=notice.days_overdue,
        recipient=notice.recipient,
        status=NoticeStatus(notice.status),
        attempts=notice.attempts,
        last_error=notice.last_error,
        sent_at=notice.sent_at,
        created_at=notice.created_at,
    )


# --- policy -----------------------------------------------------------------------------------


@router.get(
    "/dunning-policy",
    response_model=DunningPolicyOut,
    summary="The dunning policy in force",
    description="The latest saved version, or the built-in default (version 0): reminder on "
    "day 1, warning on day 7, final notice on day 14, suspension request on day 30, "
    "termination request on day 60 after the due date, no minimum amount.",
)
async def get_policy(caller: Reader, session: SessionDep) -> DunningPolicyOut:
    return _policy_out(await service.policy_in_force(session, caller.partner_id))


@router.put(
    "/dunning-policy",
    response_model=DunningPolicyOut,
    summary="Save a new version of the dunning policy",
    description="Steps keep the order reminder → warning → final notice → suspension request "
    "→ termination request; any may be left out; day offsets (days after the due date) "
    "strictly increase. Sweeps from now on apply it; steps already taken stay taken, and "
    "escalation never steps back.",
)
async def put_policy(
    body: DunningPolicyIn, caller: Writer, session: SessionDep
) -> DunningPolicyOut:
    row = await service.save_policy(session, caller.partner_id, body.to_policy(), caller.client_id)
    return _version_out(row)


@router.get(
    "/dunning-policy/versions",
    response_model=Page[DunningPolicyOut],
    summary="Saved versions of the dunning policy, newest first",
)
async def list_policy_versions(
    caller: Reader, session: SessionDep, params: PageDep
) -> Page[DunningPolicyOut]:
    rows = await service.list_policy_versions(
        session, caller.partner_id, limit=params.limit, after=params.after_id
    )
    page = make_page(rows, params, lambda row: row.id)
    return Page(items=[_version_out(row) for row in page.items], next_cursor=page.next_cursor)


# --- runs -------------------------------------------------------------------------------------


@router.post(
    "/dunning/runs",
    status_code=201,
    response_model=DunningRunResult,
    summary="Run dunning now",
    description="Runs every step due for the caller's overdue invoices as of `as_of` (default "
    "today, UTC), synchronously, and answers with the run. A past `as_of` catches up: every "
    "missed step runs, each once, in order. Steps already taken — by the schedule or another "
    "run — are never repeated. Send an `Idempotency-Key` to retry safely.",
)
async def run_dunning(
    body: DunningRunIn,
    caller: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> JSONResponse:
    summary = await service.request_run(
        runtime.db,
        caller.partner_id,
        as_of=body.as_of or datetime.now(UTC).date(),
        requested_by=caller.client_id,
        batch_size=settings.dunning_batch_size,
    )
    run = await service.get_run(session, caller.partner_id, summary.runs[caller.partner_id])
    (out,) = await _runs_out(session, [run])
    result = DunningRunResult(
        **out.model_dump(),
        invoices_examined=summary.invoices_examined,
        accounts_made_delinquent=summary.accounts_made_delinquent,
    )
    return await idem.respond(result, 201)


@router.get("/dunning/runs", response_model=Page[DunningRunOut], summary="Runs, newest first")
async def list_runs(caller: Reader, session: SessionDep, params: PageDep) -> Page[DunningRunOut]:
    runs = list(
        await service.list_runs(
            session, caller.partner_id, limit=params.limit, after=params.after_id
        )
    )
    return make_page(await _runs_out(session, runs), params, lambda run: run.id)


@router.get("/dunning/runs/{run_id}", response_model=DunningRunOut, summary="Get a run")
async def get_run(run_id: uuid.UUID, caller: Reader, session: SessionDep) -> DunningRunOut:
    run = await service.get_run(session, caller.partner_id, run_id)
    (out,) = await _runs_out(session, [run])
    return out


# --- what happened ----------------------------------------------------------------------------


@router.get(
    "/dunning/actions",
    response_model=Page[DunningActionOut],
    summary="Dunning steps taken, oldest first",
    description="Filter by invoice to see what happened to it, by account, or by run.",
)
async def list_actions(
    caller: Reader,
    session: SessionDep,
    params: PageDep,
    invoice_id: Annotated[uuid.UUID | None, Query(description="Only this invoice's.")] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's.")] = None,
    run_id: Annotated[uuid.UUID | None, Query(description="Only this run's.")] = None,
) -> Page[DunningActionOut]:
    rows = await service.list_actions(
        session,
        caller.partner_id,
        invoice_id=invoice_id,
        account_id=account_id,
        run_id=run_id,
        limit=params.limit,
        after=params.after_id,
    )
    items = [
        DunningActionOut(
            id=action.id,
            invoice_id=action.invoice_id,
            account_id=action.account_id,
            run_id=action.run_id,
            step=DunningStep(action.step),
            as_of=action.as_of,
            days_overdue=action.days_overdue,
            balance=money(action.balance, currency),
            created_at=action.created_at,
        )
        for action, currency in rows
    ]
    return make_page(items, params, lambda item: item.id)


@router.get(
    "/dunning/notices",
    response_model=Page[DunningNoticeOut],
    summary="Dunning notices and their delivery, oldest first",
)
async def list_notices(
    caller: Reader,
    session: SessionDep,
    params: PageDep,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's.")] = None,
    status: Annotated[NoticeStatus | None, Query(description="Only notices in this state.")] = None,
) -> Page[DunningNoticeOut]:
    rows = await service.list_notices(
        session,
        caller.partner_id,
        account_id=account_id,
        status=status.value if status else None,
        limit=params.limit,
        after=params.after_id,
    )
    return make_page([_notice_out(row) for row in rows], params, lambda item: item.id)
