"""Closing the loop on alerts: acknowledge, resolve as confirmed or false positive, and how
precise each detector has been by those resolutions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.monitoring import AlertKind, AlertResolved
from partnerguard.common.outbox import emit
from partnerguard.monitoring.alerts.repository import AlertRepository
from partnerguard.monitoring.alerts.schemas import (
    AlertFilters,
    DetectorPrecision,
    PrecisionReport,
    ResolveIn,
)
from partnerguard.monitoring.models import Alert, AlertStatus

log = structlog.get_logger()


async def get_alert(session: AsyncSession, partner_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    alert = await AlertRepository(session).get(partner_id, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    return alert


async def list_alerts(
    session: AsyncSession,
    partner_id: uuid.UUID,
    filters: AlertFilters,
    *,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Alert]:
    if (
        filters.raised_from is not None
        and filters.raised_to is not None
        and filters.raised_from >= filters.raised_to
    ):
        raise Unprocessable("raised_from must be before raised_to")
    return await AlertRepository(session).page(partner_id, filters, limit=limit, after=after)


async def _locked(session: AsyncSession, partner_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    alert = await AlertRepository(session).locked(partner_id, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    return alert


async def acknowledge_alert(
    session: AsyncSession, partner_id: uuid.UUID, alert_id: uuid.UUID, actor: str, now: datetime
) -> Alert:
    """Open → acknowledged; an acknowledged alert stays as it is; a resolved one is a 409."""
    alert = await _locked(session, partner_id, alert_id)
    status = AlertStatus(alert.status)
    if status is AlertStatus.RESOLVED:
        raise Conflict("the alert is resolved")
    if status is AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED.value
        alert.acknowledged_at = now
        alert.acknowledged_by = actor
        await session.flush()
        log.info("alert.acknowledged", alert_id=str(alert.id))
    return alert


async def resolve_alert(
    session: AsyncSession,
    partner_id: uuid.UUID,
    alert_id: uuid.UUID,
    body: ResolveIn,
    now: datetime,
) -> Alert:
    """Open or acknowledged → resolved as confirmed or false positive, announced with
    ``monitoring.alert.resolved``; resolving a resolved alert is a 409."""
    alert = await _locked(session, partner_id, alert_id)
    if AlertStatus(alert.status) is AlertStatus.RESOLVED:
        raise Conflict("the alert is already resolved")
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_at = now
    alert.resolved_by = body.actor
    alert.resolution = body.resolution.value
    alert.note = body.note
    await session.flush()
    await emit(
        session,
        AlertResolved(
            alert_id=alert.id,
            kind=AlertKind(alert.kind),
            customer_id=alert.customer_id,
            resolution=body.resolution,
            note=body.note,
            resolved_at=now,
        ),
        partner_id=partner_id,
        subject=alert.id,
        customer_id=alert.customer_id,
        aggregate_key=f"alert:{alert.id}",
    )
    log.info("alert.resolved", alert_id=str(alert.id), resolution=body.resolution.value)
    return alert


async def precision_report(
    session: AsyncSession,
    partner_id: uuid.UUID,
    raised_from: datetime | None,
    raised_to: datetime | None,
) -> PrecisionReport:
    """Per detector (kind, and rule where set), how its alerts raised in the window were
    resolved, and the share confirmed among those resolved."""
    if raised_from is not None and raised_to is not None and raised_from >= raised_to:
        raise Unprocessable("from must be before to")
    counts = await AlertRepository(session).counts_by_detector(partner_id, raised_from, raised_to)
    return PrecisionReport(
        raised_from=raised_from,
        raised_to=raised_to,
        detectors=[
            DetectorPrecision(
                kind=AlertKind(row.kind),
                rule=row.rule,
                confirmed=row.confirmed,
                false_positive=row.false_positive,
                open=row.open,
                precision=precision(row.confirmed, row.false_positive),
            )
            for row in counts
        ],
    )


def precision(confirmed: int, false_positive: int) -> float | None:
    """confirmed / (confirmed + false_positive); None when nothing was resolved."""
    resolved = confirmed + false_positive
    return confirmed / resolved if resolved else None
