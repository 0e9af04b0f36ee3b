"""One-time codes by SMS and e-mail: send, resend, confirm, and re-score the application.

Rules (the settings give the numbers):

- A code is ``verification_code_length`` random digits (``secrets``), valid for
  ``verification_code_ttl_seconds``. Only ``sha256(verification id ":" code)`` is stored: the id
  salts it, so one table of precomputed hashes does not serve every row. A 6-digit code has only
  a million values, so whoever reads the table can still recover a code offline in moments; that
  is why a code expires within minutes and each verification allows only
  ``verification_max_attempts`` entries. The hash keeps codes out of backups and query logs.
- Starting a verification on a channel that has one pending and unexpired is a **resend**: a new
  code replaces the old one and the expiry restarts, the attempts do not reset (else resending
  would buy unlimited guesses). Resends wait ``verification_resend_cooldown_seconds``, and no
  more than ``verification_max_sends`` codes go out per channel and application, over all its
  verifications, which also bounds the guesses of anyone who keeps starting new ones.
- A code is sent before anything is stored: if the provider refuses, the request fails with 502
  and no verification (or new hash) exists for a code nobody received.
- A verification ends ``passed`` (right code), ``failed`` (the entry that uses up the attempts)
  or ``expired`` (a code entered too late). Each end is an ``onboarding.verification.completed``
  event, an audit entry, and a new assessment with the channel's result.

Every operation locks the application row first, so concurrent sends or confirms of one
customer run one after another and the cooldown and attempt counts hold.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import BadGateway, Conflict, NotFound, TooManyRequests
from partnerguard.common.events.types.onboarding import (
    VerificationChannel,
    VerificationCompleted,
    VerificationResult,
)
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import emit
from partnerguard.onboarding.adapters import AdapterError, Adapters
from partnerguard.onboarding.applications.service import (
    UNDECIDED,
    get_application,
    reassess,
    record_audit,
    stored_facts,
)
from partnerguard.onboarding.models import Application, Verification
from partnerguard.onboarding.scoring import CheckResult
from partnerguard.onboarding.settings import OnboardingSettings
from partnerguard.onboarding.verifications.repository import VerificationRepository
from partnerguard.onboarding.verifications.schemas import (
    CodeChannel,
    VerificationOut,
    VerificationStatus,
)

log = structlog.get_logger()

_MASK = "******"


def mask_phone(phone: str) -> str:
    """``+4930901820`` → ``+49******820``: the country code and the last three digits.

    The mask has a fixed width, so it does not tell the number's length either.
    """
    if len(phone) <= 6:
        return _MASK
    return f"{phone[:3]}{_MASK}{phone[-3:]}"


def mask_email(address: str) -> str:
    """``erika@contoso.example`` → ``e***@contoso.example``: enough for the customer to
    recognise the address, too little to harvest it."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def new_code(length: int) -> str:
    """``length`` random decimal digits from the OS's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(verification_id: uuid.UUID, code: str) -> str:
    """The stored form of a code, salted by its verification's id (see the module notes)."""
    return hashlib.sha256(f"{verification_id}:{code}".encode()).hexdigest()


def code_matches(verification: Verification, code: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the stored hash."""
    return hmac.compare_digest(code_hash(verification.id, code), verification.code_hash)


def effective_status(verification: Verification, now: datetime) -> VerificationStatus:
    """A pending verification past its expiry is expired, even before anyone touches it."""
    status = VerificationStatus(verification.status)
    if status is VerificationStatus.PENDING and now >= verification.expires_at:
        return VerificationStatus.EXPIRED
    return status


def verification_out(
    verification: Verification, cooldown_seconds: int, now: datetime
) -> VerificationOut:
    """The API's view of a verification: masked destination, no code, no hash."""
    status = effective_status(verification, now)
    resend_at = None
    if status is VerificationStatus.PENDING:
        resend_at = verification.last_sent_at + timedelta(seconds=cooldown_seconds)
    return VerificationOut(
        id=verification.id,
        channel=CodeChannel(verification.channel),
        destination=verification.destination,
        status=status,
        attempts=verification.attempts,
        attempts_remaining=max(verification.max_attempts - verification.attempts, 0),
        sends=verification.sends,
        expires_at=verification.expires_at,
        resend_available_at=resend_at,
        created_at=verification.created_at,
        completed_at=verification.completed_at,
    )


async def list_verifications(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> Sequence[Verification]:
    """The customer's verifications, oldest first; NotFound for another partner's customer."""
    application = await get_application(session, partner_id, customer_id)
    return await VerificationRepository(session).for_application(partner_id, application.id)


async def start_verification(
    session: AsyncSession,
    adapters: Adapters,
    settings: OnboardingSettings,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    channel: CodeChannel,
    actor: str,
    now: datetime | None = None,
) -> Verification:
    """Send a code on ``channel``: a new verification, or a resend of the pending one.

    Raises Conflict (decided application, channel passed, codes used up), TooManyRequests
    (resend within the cooldown, with ``Retry-After``), BadGateway (the provider refused).
    """
    now = now or datetime.now(UTC)
    application = await get_application(session, partner_id, customer_id, for_update=True)
    _require_undecided(application)
    repository = VerificationRepository(session)
    if await repository.has_passed(partner_id, application.id, channel):
        raise Conflict(f"the {channel} verification has already passed")
    pending = await repository.pending(partner_id, application.id, channel)
    if pending is not None and now >= pending.expires_at:
        _close_lapsed(session, application, pending, actor, now)
        pending = None
    sent = await repository.codes_sent(partner_id, application.id, channel)
    if sent >= settings.verification_max_sends:
        raise Conflict(
            f"{sent} codes have already been sent by {channel} to this customer, the most "
            "allowed; staff can confirm the contact by phone instead"
        )
    if pending is not None:
        resend_at = pending.last_sent_at + timedelta(
            seconds=settings.verification_resend_cooldown_seconds
        )
        if now < resend_at:
            wait = max(math.ceil((resend_at - now).total_seconds()), 1)
            raise TooManyRequests(
                f"a code was sent by {channel} moments ago; a new one can be sent in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    code = new_code(settings.verification_code_length)
    verification_id = pending.id if pending is not None else new_id()
    await _send_code(adapters, settings, application, channel, code)
    expires_at = now + timedelta(seconds=settings.verification_code_ttl_seconds)
    if pending is None:
        verification = Verification(
            id=verification_id,
            partner_id=partner_id,
            application_id=application.id,
            channel=channel,
            destination=_masked_destination(application, channel),
            code_hash=code_hash(verification_id, code),
            status=VerificationStatus.PENDING,
            attempts=0,
            max_attempts=settings.verification_max_attempts,
            sends=1,
            last_sent_at=now,
            expires_at=expires_at,
            created_at=now,
        )
        await repository.add(verification)
    else:
        verification = pending
        verification.code_hash = code_hash(verification_id, code)
        verification.sends += 1
        verification.last_sent_at = now
        verification.expires_at = expires_at
    record_audit(
        session,
        application,
        "verification_code_sent",
        actor,
        None,
        {
            "verification_id": str(verification.id),
            "channel": channel.value,
            "destination": verification.destination,
            "sends": verification.sends,
        },
    )
    log.info(
        "verification.code_sent",
        verification_id=str(verification.id),
        channel=channel.value,
        sends=verification.sends,
    )
    return verification


async def confirm_verification(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    verification_id: uuid.UUID,
    code: str,
    actor: str,
    now: datetime | None = None,
) -> Verification:
    """Check an entered code. A wrong one is counted and answered, not raised, so the attempt
    commits; the result (passed, failed, expired) re-scores the application.

    Raises NotFound (no such verification for this customer) and Conflict (the verification is
    closed, or the application decided).
    """
    now = now or datetime.now(UTC)
    application = await get_application(session, partner_id, customer_id, for_update=True)
    verification = await VerificationRepository(session).one(
        partner_id, application.id, verification_id, for_update=True
    )
    if verification is None:
        raise NotFound("no such verification")
    if verification.status != VerificationStatus.PENDING:
        raise Conflict(f"the verification is {verification.status}, not pending")
    _require_undecided(application)
    # An entry counts even when it comes too late: it is an attempt the customer made.
    verification.attempts += 1
    if now >= verification.expires_at:
        await _complete(session, application, verification, VerificationStatus.EXPIRED, actor, now)
    elif code_matches(verification, code):
        await _complete(session, application, verification, VerificationStatus.PASSED, actor, now)
    elif verification.attempts >= verification.max_attempts:
        await _complete(session, application, verification, VerificationStatus.FAILED, actor, now)
    else:
        log.info(
            "verification.wrong_code",
            verification_id=str(verification.id),
            attempts=verification.attempts,
        )
    return verification


def _require_undecided(application: Application) -> None:
    if application.status not in UNDECIDED:
        raise Conflict(
            f"the application is {application.status}: verifications are closed once decided"
        )


async def _send_code(
    adapters: Adapters,
    settings: OnboardingSettings,
    application: Application,
    channel: CodeChannel,
    code: str,
) -> None:
    validity = _validity(settings.verification_code_ttl_seconds)
    # The code comes first in each message: phones offer to copy the first number they see.
    try:
        if channel is CodeChannel.SMS:
            await adapters.sms.send(
                application.contact_phone,
                f"Your verification code is {code}. It expires in {validity}. "
                "Do not share it with anyone.",
            )
        else:
            await adapters.email.send(
                application.contact_email,
                "Your verification code",
                f"Your verification code is {code}.\n\n"
                f"It expires in {validity}. Enter it where you signed up for "
                f"{application.company_name}'s account.\n\n"
                "If you did not ask for it, ignore this message. Never share the code.\n",
            )
    except AdapterError as exc:
        log.warning("verification.send_failed", channel=channel.value, provider=exc.provider)
        raise BadGateway(f"the code could not be sent by {channel}: {exc}") from exc


def _masked_destination(application: Application, channel: CodeChannel) -> str:
    if channel is CodeChannel.SMS:
        return mask_phone(application.contact_phone)
    return mask_email(application.contact_email)


def _validity(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{seconds // 60} minutes"


def _close_lapsed(
    session: AsyncSession,
    application: Application,
    verification: Verification,
    actor: str,
    now: datetime,
) -> None:
    """Close a pending verification whose code lapsed unentered, as a new one replaces it.

    No event and no re-scoring: the channel is being tried again in this very request, so it
    has no result yet, and counting the lapse would send a slow customer to review merely for
    asking for a new code. A code that is entered too late does count (see ``_complete``).
    """
    verification.status = VerificationStatus.EXPIRED
    verification.completed_at = now
    record_audit(
        session,
        application,
        "verification_lapsed",
        actor,
        "a new code was requested after this one expired",
        {
            "verification_id": str(verification.id),
            "channel": verification.channel,
            "attempts": verification.attempts,
        },
    )


async def _complete(
    session: AsyncSession,
    application: Application,
    verification: Verification,
    status: VerificationStatus,
    actor: str,
    now: datetime,
) -> None:
    """Close the verification with its result: event, audit entry, new assessment."""
    verification.status = status
    verification.completed_at = now
    result = CheckResult(status.value)
    await emit(
        session,
        VerificationCompleted(
            verification_id=verification.id,
            customer_id=application.customer_id,
            application_id=application.id,
            channel=VerificationChannel(verification.channel),
            result=VerificationResult(status.value),
            attempts=verification.attempts,
            completed_at=now,
        ),
        partner_id=application.partner_id,
        subject=application.customer_id,
        customer_id=application.customer_id,
    )
    record_audit(
        session,
        application,
        "verification_completed",
        actor,
        None,
        {
            "verification_id": str(verification.id),
            "channel": verification.channel,
            "result": status.value,
            "attempts": verification.attempts,
        },
    )
    log.info(
        "verification.completed",
        verification_id=str(verification.id),
        channel=verification.channel,
        result=status.value,
        attempts=verification.attempts,
    )
    # Keep the other channels' results: the facts hold the latest result of every channel.
    results = {**stored_facts(application).verifications, verification.channel: result}
    why = f"{verification.channel}_verification_{status.value}"
    await reassess(session, application, {"verifications": results}, actor, why, now)
