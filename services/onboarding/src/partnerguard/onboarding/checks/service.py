"""Checks of a customer beyond its contact codes: an identity check and a credit report by
outside providers, staff attestations (MFA enforced, personal phone contact), and the sanctions
screening made at submission.

Each is stored as a ``Check`` with the whole answer (the provider's JSON, or the attestation as
sent) for audit, written to the audit trail, and fed to a new assessment. Provider calls happen
before anything is stored: if the provider fails, the request fails (502) and nothing is kept.
Checks are for undecided applications only; a decided one is a 409.

The application row is locked first, so two checks of one customer run one after the other;
the lock is held through the provider call, which the adapters bound with a timeout.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import BadGateway, Conflict
from partnerguard.common.events.types.onboarding import (
    VerificationChannel,
    VerificationCompleted,
    VerificationResult,
)
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import emit
from partnerguard.onboarding.adapters import (
    AdapterError,
    Adapters,
    CreditRequest,
    IdentityRequest,
    ProviderAnswer,
    ScreeningAnswer,
)
from partnerguard.onboarding.applications.service import (
    UNDECIDED,
    get_application,
    reassess,
    record_audit,
)
from partnerguard.onboarding.checks.repository import CheckRepository
from partnerguard.onboarding.checks.schemas import CheckKind, MfaAttestationIn, PhoneContactIn
from partnerguard.onboarding.models import Application, Check
from partnerguard.onboarding.scoring import CheckResult

log = structlog.get_logger()


async def list_checks(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Sequence[Check]:
    """The customer's checks, oldest first; NotFound for another partner's customer."""
    application = await get_application(session, partner_id, customer_id)
    return await CheckRepository(session).for_application(partner_id, application.id)


async def run_identity_check(
    session: AsyncSession,
    adapters: Adapters,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[Check, Application]:
    """Ask the identity service about the company and its contact, keep and score the answer.

    Raises NotFound, Conflict (decided application), BadGateway (the provider failed).
    """
    now = now or datetime.now(UTC)
    application = await _undecided_application(session, partner_id, customer_id)
    request = IdentityRequest(
        company_name=application.company_name,
        country=application.company_country,
        registration_number=application.registration_number,
        contact_name=application.contact_name,
        contact_email=application.contact_email,
        contact_phone=application.contact_phone,
    )
    answer = await _ask(adapters.identity.check(request), CheckKind.IDENTITY)
    check = await _record_answer(session, application, CheckKind.IDENTITY, answer, actor, note, now)
    await reassess(session, application, {"identity": answer.result}, actor, "identity_check", now)
    return check, application


async def run_credit_report(
    session: AsyncSession,
    adapters: Adapters,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[Check, Application]:
    """Ask the credit bureau for a business report on the company, keep and score the answer.

    Raises NotFound, Conflict (decided application), BadGateway (the provider failed).
    """
    now = now or datetime.now(UTC)
    application = await _undecided_application(session, partner_id, customer_id)
    request = CreditRequest(
        company_name=application.company_name,
        country=application.company_country,
        registration_number=application.registration_number,
        address={
            key: str(value)
            for key, value in application.company_address.items()
            if value is not None
        },
    )
    answer = await _ask(adapters.credit.report(request), CheckKind.CREDIT)
    check = await _record_answer(session, application, CheckKind.CREDIT, answer, actor, note, now)
    await reassess(session, application, {"credit": answer.result}, actor, "credit_report", now)
    return check, application


async def record_mfa_attestation(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: MfaAttestationIn,
    actor: str,
    now: datetime | None = None,
) -> tuple[Check, Application]:
    """Record whether the customer's tenant enforces MFA, as someone attests, and re-score."""
    now = now or datetime.now(UTC)
    application = await _undecided_application(session, partner_id, customer_id)
    result = CheckResult.PASSED if body.enforced else CheckResult.FAILED
    check = _store(
        session,
        application,
        CheckKind.MFA,
        result,
        "attestation",
        None,
        body.model_dump(mode="json"),
        actor,
        now,
    )
    application.mfa_enforced = body.enforced
    await _emit_completed(session, application, check, VerificationChannel.MFA, result, now)
    record_audit(
        session,
        application,
        "mfa_attested",
        actor,
        body.evidence,
        {"check_id": str(check.id), "enforced": body.enforced, "attested_by": body.attested_by},
    )
    await reassess(
        session, application, {"mfa_enforced": body.enforced}, actor, "mfa_attested", now
    )
    return check, application


async def record_phone_contact(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: PhoneContactIn,
    actor: str,
    now: datetime | None = None,
) -> tuple[Check, Application]:
    """Record that staff did (or could not) confirm the application with the contact by phone.

    No event: the call is the partner's own step, and its effect shows in the assessment.
    """
    now = now or datetime.now(UTC)
    application = await _undecided_application(session, partner_id, customer_id)
    result = CheckResult.PASSED if body.confirmed else CheckResult.FAILED
    check = _store(
        session,
        application,
        CheckKind.PHONE_CONTACT,
        result,
        "staff",
        None,
        body.model_dump(mode="json"),
        actor,
        now,
    )
    application.phone_contact_confirmed = body.confirmed
    record_audit(
        session,
        application,
        "phone_contact_recorded",
        actor,
        body.note,
        {"check_id": str(check.id), "confirmed": body.confirmed, "staff": body.staff},
    )
    await reassess(
        session,
        application,
        {"phone_contact_confirmed": body.confirmed},
        actor,
        "phone_contact_recorded",
        now,
    )
    return check, application


async def record_screening(
    session: AsyncSession, application: Application, screening: ScreeningAnswer, actor: str
) -> Check:
    """Keep the sanctions screening made at submission: failed when anything matched.

    The hits themselves are already in the application's facts; this keeps the whole answer.
    """
    result = CheckResult.FAILED if screening.hits else CheckResult.PASSED
    return _store(
        session,
        application,
        CheckKind.SANCTIONS,
        result,
        "yente",
        None,
        screening.raw,
        actor,
        datetime.now(UTC),
    )


async def _undecided_application(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Application:
    application = await get_application(session, partner_id, customer_id, for_update=True)
    if application.status not in UNDECIDED:
        raise Conflict(f"the application is {application.status}: checks are closed once decided")
    return application


async def _ask(call: Awaitable[ProviderAnswer], kind: CheckKind) -> ProviderAnswer:
    """Await a provider call; its failure is a 502 and nothing has been stored yet."""
    try:
        answer = await call
    except AdapterError as exc:
        log.warning("check.provider_failed", kind=kind.value, provider=exc.provider)
        raise BadGateway(f"the {kind} provider did not answer: {exc}") from exc
    return answer


async def _record_answer(
    session: AsyncSession,
    application: Application,
    kind: CheckKind,
    answer: ProviderAnswer,
    actor: str,
    note: str | None,
    now: datetime,
) -> Check:
    """Store a provider's answer, emit its completion and write the audit entry."""
    check = _store(
        session,
        application,
        kind,
        answer.result,
        answer.provider,
        answer.reference,
        answer.raw,
        actor,
        now,
    )
    channel = VerificationChannel(kind.value)
    await _emit_completed(session, application, check, channel, answer.result, now)
    record_audit(
        session,
        application,
        f"{kind}_checked",
        actor,
        note,
        {
            "check_id": str(check.id),
            "result": answer.result.value,
            "provider": answer.provider,
            "reference": answer.reference,
        },
    )
    log.info("check.recorded", kind=kind.value, result=answer.result.value, check_id=str(check.id))
    return check


def _store(
    session: AsyncSession,
    application: Application,
    kind: CheckKind,
    result: CheckResult,
    provider: str,
    reference: str | None,
    raw: dict[str, Any],
    actor: str,
    now: datetime,
) -> Check:
    """Stage a check for the unit of work; its id is set here, so nothing needs a flush."""
    check = Check(
        id=new_id(),
        partner_id=application.partner_id,
        application_id=application.id,
        kind=kind,
        result=result,
        provider=provider,
        reference=reference,
        raw=raw,
        requested_by=actor,
        created_at=now,
    )
    CheckRepository(session).record(check)
    return check


async def _emit_completed(
    session: AsyncSession,
    application: Application,
    check: Check,
    channel: VerificationChannel,
    result: CheckResult,
    now: datetime,
) -> None:
    await emit(
        session,
        VerificationCompleted(
            verification_id=check.id,
            customer_id=application.customer_id,
            application_id=application.id,
            channel=channel,
            result=VerificationResult(result.value),
            # One request, one answer: a provider check or attestation is a single attempt.
            attempts=1,
            completed_at=now,
        ),
        partner_id=application.partner_id,
        subject=application.customer_id,
        customer_id=application.customer_id,
    )
