"""HTTP: the vendor's notifications — record, read, list, move along the response clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.monitoring import NotificationStage, VendorNotificationKind
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.monitoring.deps import Reader, Writer
from partnerguard.monitoring.models import Notification
from partnerguard.monitoring.notifications import service
from partnerguard.monitoring.notifications.clock import Step, is_behind, stage_outcomes
from partnerguard.monitoring.notifications.schemas import (
    NotificationDetail,
    NotificationFilters,
    NotificationIn,
    NotificationOut,
    StageOut,
    TransitionIn,
    TransitionOut,
)

router = APIRouter(prefix="/v1/monitoring", tags=["notifications"], responses=PROBLEM_RESPONSES)


def _now() -> datetime:
    return datetime.now(UTC)


def summary(notification: Notification, now: datetime) -> NotificationOut:
    status = NotificationStage(notification.status)
    return NotificationOut(
        id=notification.id,
        vendor_reference=notification.vendor_reference,
        kind=VendorNotificationKind(notification.kind),
        violation=service.violation_of(notification),
        customer_id=notification.customer_id,
        vendor_tenant_id=notification.vendor_tenant_id,
        subscription_ids=list(notification.subscription_ids),
        summary=notification.summary,
        received_at=notification.received_at,
        first_fraudulent_usage_on=notification.first_fraudulent_usage_on,
        status=status,
        review_by=notification.review_by,
        action_by=notification.action_by,
        respond_by=notification.respond_by,
        overdue=is_behind(status, service.due_of(notification), now),
        overdue_stages=[NotificationStage(s) for s in notification.overdue_stages],
        alert_id=notification.alert_id,
        created_at=notification.created_at,
        updated_at=notification.updated_at,
    )


async def detail(
    session: AsyncSession, notification: Notification, now: datetime
) -> NotificationDetail:
    moves = await service.history(session, notification)
    steps = [Step(NotificationStage(move.to_status), move.at) for move in moves]
    return NotificationDetail(
        **summary(notification, now).model_dump(),
        stages=[
            StageOut(
                stage=outcome.stage,
                due_at=outcome.due_at,
                reached_at=outcome.reached_at,
                met=outcome.met,
                announced_overdue=outcome.stage.value in notification.overdue_stages,
            )
            for outcome in stage_outcomes(steps, service.due_of(notification), now)
        ],
        history=[
            TransitionOut(
                from_status=NotificationStage(move.from_status) if move.from_status else None,
                to_status=NotificationStage(move.to_status),
                actor=move.actor,
                note=move.note,
                at=move.at,
            )
            for move in moves
        ],
    )


@router.post(
    "/notifications",
    status_code=201,
    response_model=NotificationDetail,
    responses={200: {"model": NotificationDetail, "description": "Recorded before"}},
    summary="Record a vendor notification",
    description="Starts the notice's response clock: it must be in review by `review_by`, "
    "actioned by `action_by` and responded to by `respond_by` (hours from receipt per kind, from "
    "the partner's detector settings; the vendor's own `respond_by` wins when earlier). The "
    "customer is matched by `vendor_tenant_id` when not given. Emits "
    "`monitoring.notification.received` and raises a `vendor_notification` alert (critical "
    "for acceptable-use violations and account compromise, high otherwise). A "
    "`vendor_reference` recorded before answers 200 with the stored notice when the content "
    "is the same and changes nothing; with other content it is a 409. Send an "
    "`Idempotency-Key` to retry safely.",
)
async def receive_notification(
    body: NotificationIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    now = _now()
    received = await service.receive_notification(
        session, caller.partner_id, body, caller.client_id, now
    )
    out = await detail(session, received.notification, now)
    return await idem.respond(out, 201 if received.created else 200)


@router.get(
    "/notifications",
    response_model=Page[NotificationOut],
    summary="List vendor notifications",
    description="Newest first.",
)
async def list_notifications(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[NotificationStage | None, Query(description="Only at this stage.")] = None,
    kind: Annotated[VendorNotificationKind | None, Query(description="Only of this kind.")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    overdue: Annotated[
        bool | None,
        Query(description="Only notices past a deadline of a stage not reached yet (or not)."),
    ] = None,
) -> Page[NotificationOut]:
    now = _now()
    filters = NotificationFilters(
        status=status, kind=kind, customer_id=customer_id, overdue=overdue
    )
    rows = await service.list_notifications(
        session, caller.partner_id, filters, now, limit=params.limit, after=params.after_id
    )
    return make_page([summary(row, now) for row in rows], params, lambda n: n.id)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationDetail,
    summary="Get a vendor notification",
    description="With its history and, per stage, the deadline and whether it was met.",
)
async def get_notification(
    notification_id: uuid.UUID, caller: Reader, session: SessionDep
) -> NotificationDetail:
    notification = await service.get_notification(session, caller.partner_id, notification_id)
    return await detail(session, notification, _now())


@router.post(
    "/notifications/{notification_id}/transitions",
    response_model=NotificationDetail,
    summary="Move a notification along its response clock",
    description="Forward only: received → in_review → actioned → responded, one stage or "
    "several at once (a notice actioned straight away has passed review too). A move back, or "
    "to the stage it is at, is a 409. Who, when and why are kept in its history. A stage "
    "reached after its deadline is shown as not met but is not announced overdue afterwards.",
)
async def move_notification(
    notification_id: uuid.UUID, body: TransitionIn, caller: Writer, session: SessionDep
) -> NotificationDetail:
    now = _now()
    notification = await service.move_notification(
        session, caller.partner_id, notification_id, body, now
    )
    return await detail(session, notification, now)
