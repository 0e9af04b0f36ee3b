"""Reviewers' work: claim an application from the queue and decide it, with a note.

An application in review is decided by the reviewer who claimed it. An automatic rejection can
be overturned by one reviewer, except a hard reject (a block-list or sanctions hit, say): that
takes two different reviewers, the second confirming the first's approval.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict
from partnerguard.common.events.types.onboarding import Decider, RiskReason
from partnerguard.onboarding.applications.service import (
    SYSTEM,
    approve,
    get_application,
    record_audit,
    reject,
)
from partnerguard.onboarding.models import Application, ApplicationStatus
from partnerguard.onboarding.reviews.schemas import Decision, DecisionIn


async def claim(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID, reviewer: str, client: str
) -> Application:
    application = await get_application(session, partner_id, customer_id, for_update=True)
    if application.status != ApplicationStatus.IN_REVIEW:
        raise Conflict(
            f"only applications in review can be claimed; this one is {application.status}"
        )
    if application.claimed_by not in (None, reviewer):
        raise Conflict(f"already claimed by {application.claimed_by}")
    if application.claimed_by is None:
        application.claimed_by = reviewer
        application.claimed_at = datetime.now(UTC)
        record_audit(session, application, "claimed", reviewer, None, {"client_id": client})
    return application


async def release(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID, reviewer: str, client: str
) -> Application:
    application = await get_application(session, partner_id, customer_id, for_update=True)
    if application.claimed_by != reviewer:
        raise Conflict("only the reviewer who claimed an application can release it")
    application.claimed_by = None
    application.claimed_at = None
    record_audit(session, application, "released", reviewer, None, {"client_id": client})
    return application


async def decide(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: DecisionIn,
    client: str,
) -> Application:
    application = await get_application(session, partner_id, customer_id, for_update=True)
    now = datetime.now(UTC)
    details = {"decision": body.decision.value, "client_id": client}
    status = ApplicationStatus(application.status)
    if status is ApplicationStatus.IN_REVIEW:
        if application.claimed_by != body.reviewer:
            raise Conflict(
                "claim the application before deciding it"
                if application.claimed_by is None
                else f"claimed by {application.claimed_by}"
            )
        await _apply(session, application, body, now, details)
    elif status is ApplicationStatus.REJECTED and application.decided_by == SYSTEM:
        await _overturn(session, application, body, now, details)
    else:
        raise Conflict(f"an application that is {status} cannot be decided by a reviewer")
    application.decision_note = body.note
    return application


async def _apply(
    session: AsyncSession,
    application: Application,
    body: DecisionIn,
    now: datetime,
    details: dict[str, str],
) -> None:
    if body.decision is Decision.APPROVE:
        await approve(
            session, application, Decider.REVIEWER, body.reviewer, body.note, now, details
        )
    else:
        reasons = [RiskReason(code="reviewer_decision", detail=body.note[:500])]
        await reject(
            session, application, Decider.REVIEWER, body.reviewer, body.note, now, details, reasons
        )
    application.claimed_by = None
    application.claimed_at = None


async def _overturn(
    session: AsyncSession,
    application: Application,
    body: DecisionIn,
    now: datetime,
    details: dict[str, str],
) -> None:
    """A reviewer's decision on an automatic rejection."""
    if body.decision is Decision.REJECT:
        if application.override_requested_by is None:
            raise Conflict("the application is already rejected")
        record_audit(session, application, "override_refused", body.reviewer, body.note, details)
        application.override_requested_by = None
        application.override_requested_at = None
        return
    if application.hard_reject and application.override_requested_by is None:
        application.override_requested_by = body.reviewer
        application.override_requested_at = now
        record_audit(session, application, "override_requested", body.reviewer, body.note, details)
        return
    if application.hard_reject and application.override_requested_by == body.reviewer:
        raise Conflict("overriding a hard reject needs a second, different reviewer")
    if application.override_requested_by is not None:
        details["first_reviewer"] = application.override_requested_by
    await approve(session, application, Decider.REVIEWER, body.reviewer, body.note, now, details)
    application.override_requested_by = None
    application.override_requested_at = None
