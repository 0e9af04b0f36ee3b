"""Vendor notifications: record a notice (with its deadlines, its event and its alert), move it
along its clock, and announce the stages it missed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.monitoring import (
    AlertKind,
    EvidenceValue,
    NotificationOverdue,
    NotificationReceived,
    NotificationStage,
    Severity,
    VendorNotificationKind,
    ViolationKind,
)
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import emit
from partnerguard.monitoring.alerts.raising import Finding, raise_alert
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.settings import load_config
from partnerguard.monitoring.models import Notification, NotificationTransition
from partnerguard.monitoring.notifications.clock import (
    Deadlines,
    can_move,
    deadlines,
    newly_overdue,
)
from partnerguard.monitoring.notifications.repository import NotificationRepository
from partnerguard.monitoring.notifications.schemas import (
    NotificationFilters,
    NotificationIn,
    TransitionIn,
)

log = structlog.get_logger()

SEVERITY: dict[VendorNotificationKind, Severity] = {
    VendorNotificationKind.ACCEPTABLE_USE_VIOLATION: Severity.CRITICAL,
    VendorNotificationKind.ACCOUNT_COMPROMISE: Severity.CRITICAL,
    VendorNotificationKind.SUSPECTED_FRAUD: Severity.HIGH,
    VendorNotificationKind.VENDOR_ENFORCEMENT: Severity.HIGH,
}


@dataclass(frozen=True)
class Received:
    notification: Notification
    # False when the vendor reference was recorded before (the stored notice is answered).
    created: bool


def due_of(notification: Notification) -> Deadlines:
    return Deadlines(notification.review_by, notification.action_by, notification.respond_by)


async def receive_notification(
    session: AsyncSession, partner_id: uuid.UUID, body: NotificationIn, actor: str, now: datetime
) -> Received:
    """Record the vendor's notice with its deadlines, announce it and raise its alert. A vendor
    reference seen before answers the stored notice when the content is the same (409 when
    it is not) and changes nothing."""
    received_at = (body.received_at or now).astimezone(UTC)
    vendor_respond_by = body.respond_by.astimezone(UTC) if body.respond_by else None
    if received_at > now:
        raise Unprocessable("received_at is in the future")
    if vendor_respond_by is not None and vendor_respond_by <= received_at:
        raise Unprocessable("respond_by must be after received_at")
    first_usage = body.first_fraudulent_usage_on
    if first_usage is not None and first_usage > received_at.date():
        raise Unprocessable("first_fraudulent_usage_on is after the notice was received")
    repository = NotificationRepository(session)
    existing = await repository.by_reference(partner_id, body.vendor_reference)
    if existing is not None:
        return await _same_notice(session, partner_id, existing, body)

    config = await load_config(session, partner_id)
    due = deadlines(received_at, config.notifications.clock(body.kind), vendor_respond_by)
    customer_id = body.customer_id
    if customer_id is None:
        customer = await CustomerRepository(session).by_tenant(partner_id, body.vendor_tenant_id)
        customer_id = customer.customer_id if customer is not None else None
    notification = await repository.insert_new(
        {
            "id": new_id(),
            "partner_id": partner_id,
            "vendor_reference": body.vendor_reference,
            "kind": body.kind.value,
            "violation": body.violation.value if body.violation else None,
            "customer_id": customer_id,
            "vendor_tenant_id": body.vendor_tenant_id,
            "subscription_ids": list(dict.fromkeys(body.subscription_ids)),
            "summary": body.summary,
            "received_at": received_at,
            "first_fraudulent_usage_on": first_usage,
            "status": NotificationStage.RECEIVED.value,
            "review_by": due.review_by,
            "action_by": due.action_by,
            "respond_by": due.respond_by,
            "overdue_stages": [],
        }
    )
    if notification is None:  # the same reference was recorded at the same moment
        raced = await repository.by_reference(partner_id, body.vendor_reference)
        assert raced is not None
        return await _same_notice(session, partner_id, raced, body)

    await repository.add_transition(
        NotificationTransition(
            partner_id=partner_id,
            notification_id=notification.id,
            from_status=None,
            to_status=NotificationStage.RECEIVED.value,
            actor=actor,
            note=None,
            at=received_at,
        )
    )
    await emit(
        session,
        NotificationReceived(
            notification_id=notification.id,
            vendor_reference=notification.vendor_reference,
            kind=body.kind,
            violation=body.violation,
            customer_id=customer_id,
            vendor_tenant_id=body.vendor_tenant_id,
            subscription_ids=tuple(notification.subscription_ids),
            summary=body.summary,
            received_at=received_at,
            respond_by=due.respond_by,
            first_fraudulent_usage_on=first_usage,
        ),
        partner_id=partner_id,
        subject=notification.id,
        customer_id=customer_id,
        aggregate_key=f"notification:{notification.id}",
    )
    alert = await raise_alert(session, partner_id, _finding(notification, body), now)
    if alert is not None:
        notification.alert_id = alert.id
        await session.flush()
    log.info(
        "notification.received",
        notification_id=str(notification.id),
        kind=body.kind.value,
        customer_id=str(customer_id) if customer_id else None,
    )
    return Received(notification, created=True)


def _finding(notification: Notification, body: NotificationIn) -> Finding:
    evidence: dict[str, EvidenceValue] = {
        "notification_id": str(notification.id),
        "vendor_reference": notification.vendor_reference,
        "kind": body.kind.value,
        "vendor_tenant_id": str(notification.vendor_tenant_id),
        "received_at": notification.received_at.isoformat(),
        "respond_by": notification.respond_by.isoformat(),
    }
    about = body.kind.value.replace("_", " ")
    if body.violation is not None:
        evidence["violation"] = body.violation.value
        about += f" ({body.violation.value.replace('_', ' ')})"
    return Finding(
        kind=AlertKind.VENDOR_NOTIFICATION,
        severity=SEVERITY[body.kind],
        summary=f"Vendor notice of {about}: {body.summary}",
        dedup_key=f"vendor_notification:{notification.id}",
        customer_id=notification.customer_id,
        rule=body.kind.value,
        evidence=evidence,
        subscription_ids=tuple(notification.subscription_ids),
    )


async def _same_notice(
    session: AsyncSession, partner_id: uuid.UUID, stored: Notification, body: NotificationIn
) -> Received:
    """The stored notice when ``body`` says the same as what was recorded; 409 otherwise.

    Left-out optional fields (customer, receipt time, vendor deadline) match what was stored;
    a vendor deadline given matches when it leads to the stored effective deadline."""
    differs = [
        name
        for name, same in (
            ("kind", stored.kind == body.kind.value),
            ("violation", stored.violation == (body.violation.value if body.violation else None)),
            ("vendor_tenant_id", stored.vendor_tenant_id == body.vendor_tenant_id),
            ("summary", stored.summary == body.summary),
            ("subscription_ids", set(stored.subscription_ids) == set(body.subscription_ids)),
            (
                "customer_id",
                body.customer_id is None or stored.customer_id == body.customer_id,
            ),
            (
                "received_at",
                body.received_at is None or stored.received_at == body.received_at,
            ),
            (
                "first_fraudulent_usage_on",
                stored.first_fraudulent_usage_on == body.first_fraudulent_usage_on,
            ),
        )
        if not same
    ]
    if body.respond_by is not None:
        config = await load_config(session, partner_id)
        clock = config.notifications.clock(VendorNotificationKind(stored.kind))
        configured = stored.received_at + timedelta(hours=clock.respond_hours)
        if min(configured, body.respond_by) != stored.respond_by:
            differs.append("respond_by")
    if differs:
        raise Conflict(
            f"vendor_reference {stored.vendor_reference!r} was recorded with other content "
            f"({', '.join(differs)})"
        )
    return Received(stored, created=False)


async def get_notification(
    session: AsyncSession, partner_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    notification = await NotificationRepository(session).get(partner_id, notification_id)
    if notification is None:
        raise NotFound("no such notification")
    return notification


async def history(
    session: AsyncSession, notification: Notification
) -> Sequence[NotificationTransition]:
    return await NotificationRepository(session).transitions(
        notification.partner_id, notification.id
    )


async def list_notifications(
    session: AsyncSession,
    partner_id: uuid.UUID,
    filters: NotificationFilters,
    now: datetime,
    *,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Notification]:
    return await NotificationRepository(session).page(
        partner_id, filters, now, limit=limit, after=after
    )


async def move_notification(
    session: AsyncSession,
    partner_id: uuid.UUID,
    notification_id: uuid.UUID,
    body: TransitionIn,
    now: datetime,
) -> Notification:
    """Move the notice forward to ``body.to`` (skipping stages is allowed), recording who,
    when and why; a move back or to where it stands is a 409."""
    repository = NotificationRepository(session)
    notification = await repository.locked(partner_id, notification_id)
    if notification is None:
        raise NotFound("no such notification")
    current = NotificationStage(notification.status)
    if not can_move(current, body.to):
        raise Conflict(
            f"the notice is {current.value}; it moves forward only, not to {body.to.value}"
        )
    await repository.add_transition(
        NotificationTransition(
            partner_id=partner_id,
            notification_id=notification.id,
            from_status=current.value,
            to_status=body.to.value,
            actor=body.actor,
            note=body.note,
            at=now,
        )
    )
    notification.status = body.to.value
    await session.flush()
    log.info(
        "notification.moved",
        notification_id=str(notification.id),
        from_status=current.value,
        to_status=body.to.value,
    )
    return notification


async def announce_overdue(session: AsyncSession, now: datetime, limit: int) -> tuple[int, int]:
    """Across partners (a sweep session): announce each stage that passed its deadline unreached,
    once, for up to ``limit`` notices. How many notices were claimed, and events emitted."""
    notifications = await NotificationRepository(session).claim_to_announce(now, limit)
    emitted = 0
    for notification in notifications:
        status = NotificationStage(notification.status)
        due = due_of(notification)
        missed = newly_overdue(status, due, notification.overdue_stages, now)
        for stage in missed:
            await emit(
                session,
                NotificationOverdue(
                    notification_id=notification.id,
                    kind=VendorNotificationKind(notification.kind),
                    customer_id=notification.customer_id,
                    vendor_tenant_id=notification.vendor_tenant_id,
                    missed_stage=stage,
                    status=status,
                    due_at=due.due_at(stage),
                    respond_by=notification.respond_by,
                ),
                partner_id=notification.partner_id,
                subject=notification.id,
                customer_id=notification.customer_id,
                aggregate_key=f"notification:{notification.id}",
            )
            log.info(
                "notification.overdue",
                notification_id=str(notification.id),
                missed_stage=stage.value,
                status=status.value,
            )
        notification.overdue_stages = [*notification.overdue_stages, *(s.value for s in missed)]
        emitted += len(missed)
    await session.flush()
    return len(notifications), emitted


def violation_of(notification: Notification) -> ViolationKind | None:
    return ViolationKind(notification.violation) if notification.violation else None
