"""Applications: submit, score, move through their states, and tell the others by event.

States: submitted → pending_verification → in_review → approved | rejected. The rules engine
decides where an application goes after each new fact (``assess``); reviewers decide the
queue (``reviews``). Every change is written to the audit trail and, where another service
cares, to the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import NotFound, PolicyViolation
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.onboarding import (
    CollectionsPolicyAccepted,
    CustomerApproved,
    CustomerRejected,
    CustomerReviewRequired,
    CustomerSubmitted,
    Decider,
    RiskReason,
    RiskTier,
)
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import OutboxEntry, outbox_entry, stage
from partnerguard.onboarding.applications.repository import ApplicationRepository
from partnerguard.onboarding.applications.schemas import ApplicationIn, CollectionsAcceptanceIn
from partnerguard.onboarding.collections.service import published_version_id
from partnerguard.onboarding.lists.service import ListCandidates, hit_lookup, list_hits
from partnerguard.onboarding.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    CollectionsAcceptance,
)
from partnerguard.onboarding.risk_policy.service import PolicyInForce, policy_in_force
from partnerguard.onboarding.scoring import (
    Assessment,
    CheckResult,
    Facts,
    Outcome,
    SanctionsHit,
    VelocityKey,
    is_free_email_domain,
    score_application,
)

SYSTEM = "system"

# States in which new facts still move an application on their own.
_OPEN = {ApplicationStatus.SUBMITTED, ApplicationStatus.PENDING_VERIFICATION}
UNDECIDED = {*_OPEN, ApplicationStatus.IN_REVIEW}

# ``session.info`` key of the application being submitted (``_Unstored``).
_UNSTORED = "onboarding.unstored_application"


@dataclass
class _Unstored:
    """An application being submitted, and the rows written with it in one statement once its
    first decision is made (``ApplicationRepository.insert_new``)."""

    application: Application
    audit: list[dict[str, Any]] = field(default_factory=list)
    acceptance: CollectionsAcceptance | None = None
    outbox: list[OutboxEntry] = field(default_factory=list)


def _unstored(session: AsyncSession, application: Application) -> _Unstored | None:
    unstored: _Unstored | None = session.info.get(_UNSTORED)
    return unstored if unstored is not None and unstored.application is application else None


async def get_application(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Application:
    application = await ApplicationRepository(session).by_customer(
        partner_id, customer_id, for_update=for_update
    )
    if application is None:
        raise NotFound("no such customer")
    return application


async def submit_application(
    session: AsyncSession,
    partner_id: uuid.UUID,
    body: ApplicationIn,
    actor: str,
    in_force: PolicyInForce,
    sanctions_hits: tuple[SanctionsHit, ...] = (),
    now: datetime | None = None,
) -> Application:
    """Store an application, score it under ``in_force``, and move it to its first decision."""
    now = now or datetime.now(UTC)
    repository = ApplicationRepository(session)
    email_domain = body.contact.email.rsplit("@", 1)[1]
    instrument = body.payment_instrument
    velocity_values: dict[VelocityKey, object] = {
        VelocityKey.IP: body.signup.ip,
        VelocityKey.DEVICE: body.signup.device_id,
        # Everybody shares gmail.com: velocity by domain only means something for companies'.
        VelocityKey.EMAIL_DOMAIN: None if is_free_email_domain(email_domain) else email_domain,
        VelocityKey.PHONE: body.contact.phone,
        VelocityKey.CARD_BIN: instrument.card_bin if instrument else None,
    }
    windows = {key: limit.window_minutes for key, limit in in_force.policy.velocity.items()}
    lookup = hit_lookup(
        ListCandidates(
            email=body.contact.email,
            email_domain=email_domain,
            company_domain=body.company.domain,
            ip=body.signup.ip,
            device_id=body.signup.device_id,
            card_bin=instrument.card_bin if instrument else None,
            phone=body.contact.phone,
            tenant_id=body.vendor_tenant_id,
        )
    )
    accepts = body.collections_acceptance
    screening = await repository.screening(
        partner_id,
        velocity_values,
        windows,
        lookup,
        accepts.policy_version if accepts is not None else None,
        now,
    )
    application = Application(
        id=new_id(),
        partner_id=partner_id,
        customer_id=new_id(),
        status=ApplicationStatus.SUBMITTED,
        company_name=body.company.name,
        company_domain=body.company.domain,
        company_country=body.company.country,
        company_address=body.company.address.model_dump(mode="json", exclude_none=True),
        registration_number=body.company.registration_number,
        contact_name=body.contact.name,
        contact_email=body.contact.email,
        email_domain=email_domain,
        contact_phone=body.contact.phone,
        vendor_tenant_id=body.vendor_tenant_id,
        instrument_type=instrument.type if instrument else None,
        card_bin=instrument.card_bin if instrument else None,
        card_country=instrument.card_country if instrument else None,
        signup_ip=body.signup.ip,
        user_agent=body.signup.user_agent,
        device_id=body.signup.device_id,
        form_fill_seconds=body.signup.form_fill_seconds,
        ip_country=body.signup.ip_country,
        reasons=[],
        created_at=now,
        updated_at=now,
    )
    facts = Facts(
        company_country=body.company.country,
        company_domain=body.company.domain,
        contact_email=body.contact.email,
        contact_phone=body.contact.phone,
        ip_country=body.signup.ip_country,
        user_agent=body.signup.user_agent,
        form_fill_seconds=body.signup.form_fill_seconds,
        instrument_type=instrument.type if instrument else None,
        card_bin=instrument.card_bin if instrument else None,
        card_country=instrument.card_country if instrument else None,
        velocity=screening.velocity,
        list_hits=list_hits(screening.hits),
        sanctions_hits=sanctions_hits,
    )
    # Until it is decided, the application's audit entries, acceptance and events wait here,
    # and are then written with it in one statement.
    unstored = _Unstored(application)
    session.info[_UNSTORED] = unstored
    try:
        _record(session, application, "submitted", None, ApplicationStatus.SUBMITTED, actor, None)
        await _tell(
            session,
            application,
            CustomerSubmitted(
                customer_id=application.customer_id,
                application_id=application.id,
                company_name=application.company_name,
                country=application.company_country,
                primary_domain=application.company_domain,
                vendor_tenant_id=application.vendor_tenant_id,
                submitted_at=now,
            ),
        )
        if accepts is not None:
            await record_acceptance(
                session, application, accepts, actor, now, screening.collections_policy_id
            )
        await assess(session, application, facts, in_force, SYSTEM, "submitted", now)
    finally:
        del session.info[_UNSTORED]
    await repository.insert_new(application, unstored.audit, unstored.acceptance, unstored.outbox)
    return application


async def reassess(
    session: AsyncSession,
    application: Application,
    changes: Mapping[str, Any],
    actor: str,
    why: str,
    now: datetime | None = None,
) -> Assessment:
    """Score again after new facts (a verification, a check, an attestation) under the policy
    in force now; velocity and list hits stay as they were at submission."""
    now = now or datetime.now(UTC)
    facts = stored_facts(application).model_copy(update=dict(changes))
    in_force = await policy_in_force(session, application.partner_id)
    return await assess(session, application, facts, in_force, actor, why, now)


def stored_facts(application: Application) -> Facts:
    if application.facts is None:
        raise PolicyViolation("the application has not been scored yet")
    return Facts.model_validate(application.facts)


async def assess(
    session: AsyncSession,
    application: Application,
    facts: Facts,
    in_force: PolicyInForce,
    actor: str,
    why: str,
    now: datetime,
) -> Assessment:
    """Score ``facts``, keep the result, and move the application where the outcome says."""
    assessment = score_application(facts, in_force.policy)
    application.facts = facts.model_dump(mode="json")
    application.score = assessment.score
    application.outcome = assessment.outcome
    application.hard_reject = assessment.hard_reject
    application.risk_tier = assessment.risk_tier
    application.prepayment_required = assessment.prepayment_required
    application.reasons = [reason.model_dump(mode="json") for reason in assessment.reasons]
    application.policy_version = in_force.version
    application.scored_at = now
    application.updated_at = now
    details = {"score": assessment.score, "outcome": assessment.outcome, "why": why}
    status = ApplicationStatus(application.status)
    # A claimed application is the reviewer's to decide; decided ones stay decided.
    movable = status in _OPEN or (
        status is ApplicationStatus.IN_REVIEW and application.claimed_by is None
    )
    if not movable:
        _record(session, application, "scored", status, status, actor, why, details)
        return assessment
    if assessment.outcome is Outcome.REJECT:
        await reject(session, application, Decider.AUTOMATIC, actor, why, now, details)
    elif assessment.outcome is Outcome.REVIEW:
        if status is not ApplicationStatus.IN_REVIEW:
            await _send_to_review(session, application, actor, why, now, details)
        else:
            _record(session, application, "scored", status, status, actor, why, details)
    elif missing_requirements(application, facts, in_force):
        if status is ApplicationStatus.PENDING_VERIFICATION:
            _record(session, application, "scored", status, status, actor, why, details)
        else:
            _move(session, application, ApplicationStatus.PENDING_VERIFICATION, actor, why, details)
    else:
        await approve(session, application, Decider.AUTOMATIC, actor, why, now, details)
    return assessment


def missing_requirements(
    application: Application, facts: Facts, in_force: PolicyInForce
) -> list[str]:
    """What must still happen before this application may be approved."""
    missing: list[str] = []
    for channel in sorted(in_force.policy.required_verifications):
        if channel == "mfa":
            if application.mfa_enforced is not True:
                missing.append("mfa")
        elif facts.verifications.get(channel) is not CheckResult.PASSED:
            missing.append(channel)
    if application.collections_policy_version is None:
        missing.append("collections_policy")
    return missing


async def approve(
    session: AsyncSession,
    application: Application,
    decider: Decider,
    actor: str,
    why: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    if application.collections_policy_version is None:
        raise PolicyViolation("the customer has not accepted the collections policy")
    _move(session, application, ApplicationStatus.APPROVED, actor, why, details)
    application.decided_by = actor
    application.decided_at = now
    await _tell(
        session,
        application,
        CustomerApproved(
            customer_id=application.customer_id,
            application_id=application.id,
            risk_tier=RiskTier(application.risk_tier or RiskTier.HIGH),
            prepayment_required=bool(application.prepayment_required),
            vendor_tenant_id=application.vendor_tenant_id,
            country=application.company_country,
            decided_by=decider,
            approved_at=now,
        ),
    )


async def reject(
    session: AsyncSession,
    application: Application,
    decider: Decider,
    actor: str,
    why: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
    reasons: list[RiskReason] | None = None,
) -> None:
    _move(session, application, ApplicationStatus.REJECTED, actor, why, details)
    application.decided_by = actor
    application.decided_at = now
    await _tell(
        session,
        application,
        CustomerRejected(
            customer_id=application.customer_id,
            application_id=application.id,
            reasons=tuple(reasons or _risk_reasons(application)),
            decided_by=decider,
            rejected_at=now,
        ),
    )


async def _send_to_review(
    session: AsyncSession,
    application: Application,
    actor: str,
    why: str,
    now: datetime,
    details: dict[str, Any],
) -> None:
    _move(session, application, ApplicationStatus.IN_REVIEW, actor, why, details)
    await _tell(
        session,
        application,
        CustomerReviewRequired(
            customer_id=application.customer_id,
            application_id=application.id,
            risk_score=application.score or 0,
            reasons=tuple(_risk_reasons(application)),
            queued_at=now,
        ),
    )


def _risk_reasons(application: Application) -> list[RiskReason]:
    """The reasons that raised the score (a review or rejection always names at least one)."""
    reasons = [
        RiskReason(code=reason["code"], detail=reason["detail"][:500])
        for reason in application.reasons
        if reason["points"] > 0 or reason.get("hard")
    ]
    return reasons or [RiskReason(code="score", detail=f"risk score {application.score}")]


async def record_acceptance(
    session: AsyncSession,
    application: Application,
    body: CollectionsAcceptanceIn,
    actor: str,
    now: datetime | None = None,
    policy_id: uuid.UUID | None = None,
) -> CollectionsAcceptance:
    """Record the customer's acceptance of a published collections policy version
    (``policy_id``: that version's id, when the caller has read it already)."""
    now = now or datetime.now(UTC)
    version = body.policy_version
    if policy_id is None:
        policy_id = await published_version_id(session, application.partner_id, version)
    if policy_id is None:
        raise PolicyViolation(f"collections policy version {version!r} has not been published")
    accepted_at = body.accepted_at or now
    acceptance = CollectionsAcceptance(
        partner_id=application.partner_id,
        application_id=application.id,
        policy_id=policy_id,
        policy_version=version,
        accepted_by=body.accepted_by,
        ip_address=body.ip_address,
        user_agent=body.user_agent,
        accepted_at=accepted_at,
        recorded_by=actor,
    )
    unstored = _unstored(session, application)
    if unstored is not None:
        unstored.acceptance = acceptance
    else:
        session.add(acceptance)
    application.collections_policy_version = version
    application.updated_at = now
    status = ApplicationStatus(application.status)
    _record(
        session,
        application,
        "collections_policy_accepted",
        status,
        status,
        actor,
        None,
        {"policy_version": version, "accepted_by": body.accepted_by},
    )
    await _tell(
        session,
        application,
        CollectionsPolicyAccepted(
            customer_id=application.customer_id,
            application_id=application.id,
            policy_version=version,
            accepted_by=body.accepted_by,
            accepted_at=accepted_at,
            ip_address=body.ip_address,
            user_agent=body.user_agent,
        ),
    )
    return acceptance


async def _tell(session: AsyncSession, application: Application, data: EventData) -> None:
    """Write an event about this customer to the outbox, in this transaction."""
    entry = outbox_entry(
        data,
        partner_id=application.partner_id,
        subject=application.customer_id,
        customer_id=application.customer_id,
    )
    unstored = _unstored(session, application)
    if unstored is not None:
        unstored.outbox.append(entry)
    else:
        stage(session, entry)


def _move(
    session: AsyncSession,
    application: Application,
    to: ApplicationStatus,
    actor: str,
    why: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    before = ApplicationStatus(application.status)
    application.status = to
    _record(session, application, "status_changed", before, to, actor, why, details)


def _record(
    session: AsyncSession,
    application: Application,
    action: str,
    before: ApplicationStatus | None,
    after: ApplicationStatus | None,
    actor: str,
    why: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    entry: dict[str, Any] = {
        "id": new_id(),
        "partner_id": application.partner_id,
        "application_id": application.id,
        "action": action,
        "from_status": before,
        "to_status": after,
        "actor": actor,
        "reason": why,
        "details": details or {},
        "at": datetime.now(UTC),
    }
    unstored = _unstored(session, application)
    if unstored is not None:
        unstored.audit.append(entry)
    else:
        ApplicationRepository(session).record(ApplicationEvent(**entry))


def record_audit(
    session: AsyncSession,
    application: Application,
    action: str,
    actor: str,
    why: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """An audit entry that changes no state (a claim, a check, an attestation)."""
    status = ApplicationStatus(application.status)
    _record(session, application, action, status, status, actor, why, details)
