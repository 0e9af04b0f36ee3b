"""HTTP: SMS and e-mail verification of a customer's contact by one-time code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from partnerguard.common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, Problem
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.deps import AdaptersDep, Reader, SettingsDep, Writer
from partnerguard.onboarding.verifications import service
from partnerguard.onboarding.verifications.schemas import (
    ConfirmCodeIn,
    StartVerificationIn,
    VerificationOut,
)

router = APIRouter(
    prefix="/v1/onboarding/customers", tags=["verifications"], responses=PROBLEM_RESPONSES
)

_SEND_PROBLEMS: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "A resend within the cooldown; `Retry-After` says when to try again.",
    },
    502: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "The SMS gateway or mail server did not take the code; nothing stored.",
    },
}


@router.post(
    "/{customer_id}/verifications",
    status_code=201,
    response_model=VerificationOut,
    responses=_SEND_PROBLEMS,
    summary="Send a verification code by SMS or e-mail",
    description="Sends a one-time code to the contact's phone (`sms`) or e-mail address "
    "(`email`). While a verification of that channel is pending and its code valid, this is a "
    "resend: a new code replaces the old one and the expiry restarts, but the attempts do not "
    "reset; resends wait `resend_available_at` (else 429 with `Retry-After`), and only a "
    "limited number of codes is sent per channel (then 409). A channel that has passed, or a "
    "decided application, is a 409.",
)
async def start_verification(
    customer_id: uuid.UUID,
    body: StartVerificationIn,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
    adapters: AdaptersDep,
    idem: IdempotencyDep,
) -> object:
    now = datetime.now(UTC)
    verification = await service.start_verification(
        session,
        adapters,
        settings,
        caller.partner_id,
        customer_id,
        body.channel,
        caller.client_id,
        now,
    )
    out = service.verification_out(verification, settings.verification_resend_cooldown_seconds, now)
    return await idem.respond(out, 201)


@router.post(
    "/{customer_id}/verifications/{verification_id}/confirm",
    response_model=VerificationOut,
    summary="Confirm a verification code",
    description="Checks the code the customer entered. The answer is 200 whatever the code: "
    "`passed` for the right one; a wrong one leaves the verification `pending` with one "
    "attempt fewer, and the attempt that uses up the last one makes it `failed`; a code entered "
    "after expiry makes it `expired`. A passed, failed or expired verification re-scores the "
    "application. A verification that is no longer pending is a 409.",
)
async def confirm_verification(
    customer_id: uuid.UUID,
    verification_id: uuid.UUID,
    body: ConfirmCodeIn,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
) -> VerificationOut:
    now = datetime.now(UTC)
    verification = await service.confirm_verification(
        session, caller.partner_id, customer_id, verification_id, body.code, caller.client_id, now
    )
    return service.verification_out(
        verification, settings.verification_resend_cooldown_seconds, now
    )


@router.get(
    "/{customer_id}/verifications",
    response_model=list[VerificationOut],
    summary="The customer's verifications",
    description="Oldest first. Destinations are masked; codes are never shown.",
)
async def list_verifications(
    customer_id: uuid.UUID, session: SessionDep, caller: Reader, settings: SettingsDep
) -> list[VerificationOut]:
    now = datetime.now(UTC)
    rows = await service.list_verifications(session, caller.partner_id, customer_id)
    cooldown = settings.verification_resend_cooldown_seconds
    return [service.verification_out(row, cooldown, now) for row in rows]
