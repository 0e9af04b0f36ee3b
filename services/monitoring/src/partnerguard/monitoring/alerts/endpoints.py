"""HTTP: alerts — list and filter, read, acknowledge, resolve; precision per detector."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.monitoring import AlertKind, AlertResolution, Severity
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.monitoring.alerts import service
from partnerguard.monitoring.alerts.schemas import (
    AcknowledgeIn,
    AlertFilters,
    AlertOut,
    PrecisionReport,
    ResolveIn,
)
from partnerguard.monitoring.deps import Reader, Writer
from partnerguard.monitoring.models import Alert, AlertStatus

router = APIRouter(prefix="/v1/monitoring", tags=["alerts"], responses=PROBLEM_RESPONSES)


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        kind=AlertKind(alert.kind),
        severity=Severity(alert.severity),
        rule=alert.rule,
        customer_id=alert.customer_id,
        subscription_ids=list(alert.subscription_ids),
        summary=alert.summary,
        evidence=alert.evidence,
        status=AlertStatus(alert.status),
        raised_at=alert.raised_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolution=AlertResolution(alert.resolution) if alert.resolution else None,
        note=alert.note,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
    )


@router.get(
    "/alerts",
    response_model=Page[AlertOut],
    summary="List alerts",
    description="Newest first. `raised_from` is inclusive, `raised_to` exclusive.",
)
async def list_alerts(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[AlertStatus | None, Query(description="Only in this status.")] = None,
    kind: Annotated[AlertKind | None, Query(description="Only from this detector.")] = None,
    severity: Annotated[Severity | None, Query(description="Only of this severity.")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    rule: Annotated[
        str | None, Query(max_length=100, description="Only this rule or detector variant.")
    ] = None,
    raised_from: Annotated[
        AwareDatetime | None, Query(description="Raised at or after this time.")
    ] = None,
    raised_to: Annotated[
        AwareDatetime | None, Query(description="Raised before this time.")
    ] = None,
) -> Page[AlertOut]:
    filters = AlertFilters(
        status=status,
        kind=kind,
        severity=severity,
        customer_id=customer_id,
        rule=rule,
        raised_from=raised_from,
        raised_to=raised_to,
    )
    rows = await service.list_alerts(
        session, caller.partner_id, filters, limit=params.limit, after=params.after_id
    )
    return make_page([alert_out(row) for row in rows], params, lambda a: a.id)


# Declared before /alerts/{alert_id}, which would otherwise take "precision" for an id.
@router.get(
    "/alerts/precision",
    response_model=PrecisionReport,
    summary="Precision per detector",
    description="For the alerts raised in the window (`from` inclusive, `to` exclusive; both "
    "optional), per detector (kind, and rule where set): how many were resolved confirmed, "
    "resolved false positive, or are not resolved yet, and precision = confirmed / (confirmed "
    "+ false_positive), null while none was resolved.",
)
async def detector_precision(
    caller: Reader,
    session: SessionDep,
    raised_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Raised at or after this time.")
    ] = None,
    raised_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Raised before this time.")
    ] = None,
) -> PrecisionReport:
    return await service.precision_report(session, caller.partner_id, raised_from, raised_to)


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="Get an alert")
async def get_alert(alert_id: uuid.UUID, caller: Reader, session: SessionDep) -> AlertOut:
    return alert_out(await service.get_alert(session, caller.partner_id, alert_id))


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    summary="Acknowledge an alert",
    description="Someone is looking into it: open → acknowledged. Acknowledging an "
    "acknowledged alert changes nothing; a resolved alert is a 409.",
)
async def acknowledge_alert(
    alert_id: uuid.UUID, body: AcknowledgeIn, caller: Writer, session: SessionDep
) -> AlertOut:
    alert = await service.acknowledge_alert(
        session, caller.partner_id, alert_id, body.actor, datetime.now(UTC)
    )
    return alert_out(alert)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    summary="Resolve an alert",
    description="Closes an open or acknowledged alert as `confirmed` or `false_positive` (the "
    "input of precision per detector). Emits `monitoring.alert.resolved`. Resolving a "
    "resolved alert is a 409.",
)
async def resolve_alert(
    alert_id: uuid.UUID, body: ResolveIn, caller: Writer, session: SessionDep
) -> AlertOut:
    alert = await service.resolve_alert(
        session, caller.partner_id, alert_id, body, datetime.now(UTC)
    )
    return alert_out(alert)
