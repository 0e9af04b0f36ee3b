"""HTTP: identity checks, credit reports, MFA attestations and staff phone contact."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, Problem
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.applications.endpoints import present
from partnerguard.onboarding.checks import service
from partnerguard.onboarding.checks.schemas import (
    CheckOut,
    CheckRecordedOut,
    MfaAttestationIn,
    PhoneContactIn,
    ProviderCheckIn,
)
from partnerguard.onboarding.deps import AdaptersDep, Reader, Writer
from partnerguard.onboarding.models import Application, Check

router = APIRouter(prefix="/v1/onboarding/customers", tags=["checks"], responses=PROBLEM_RESPONSES)

_PROVIDER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    502: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "The provider failed or did not answer in time; nothing was stored.",
    }
}

OptionalNote = Annotated[ProviderCheckIn | None, Body()]


async def _recorded(
    session: AsyncSession, check: Check, application: Application
) -> CheckRecordedOut:
    return CheckRecordedOut(
        check=CheckOut.model_validate(check, from_attributes=True),
        customer=await present(session, application),
    )


@router.post(
    "/{customer_id}/identity-check",
    status_code=201,
    response_model=CheckRecordedOut,
    responses=_PROVIDER_PROBLEMS,
    summary="Run an identity check",
    description="Asks the identity service whether the company and its contact are who they "
    "claim to be, keeps its whole answer, and re-scores the application with the result "
    "(`passed`, `failed` or `inconclusive`). The body (an optional note) may be omitted.",
)
async def run_identity_check(
    customer_id: uuid.UUID,
    session: SessionDep,
    caller: Writer,
    adapters: AdaptersDep,
    idem: IdempotencyDep,
    body: OptionalNote = None,
) -> object:
    check, application = await service.run_identity_check(
        session,
        adapters,
        caller.partner_id,
        customer_id,
        caller.client_id,
        note=body.note if body else None,
    )
    return await idem.respond(await _recorded(session, check, application), 201)


@router.post(
    "/{customer_id}/credit-report",
    status_code=201,
    response_model=CheckRecordedOut,
    responses=_PROVIDER_PROBLEMS,
    summary="Get a business credit report",
    description="Asks the credit bureau for a report on the company, keeps its whole answer "
    "(score included), and re-scores the application with its decision. The body (an optional "
    "note) may be omitted.",
)
async def run_credit_report(
    customer_id: uuid.UUID,
    session: SessionDep,
    caller: Writer,
    adapters: AdaptersDep,
    idem: IdempotencyDep,
    body: OptionalNote = None,
) -> object:
    check, application = await service.run_credit_report(
        session,
        adapters,
        caller.partner_id,
        customer_id,
        caller.client_id,
        note=body.note if body else None,
    )
    return await idem.respond(await _recorded(session, check, application), 201)


@router.post(
    "/{customer_id}/mfa-attestation",
    status_code=201,
    response_model=CheckRecordedOut,
    summary="Attest whether the customer enforces MFA",
    description="Records who attests that the customer's tenant enforces multi-factor "
    "authentication (or does not), on what evidence, and re-scores the application. A policy "
    "that requires `mfa` approves only once it is attested as enforced.",
)
async def attest_mfa(
    customer_id: uuid.UUID,
    body: MfaAttestationIn,
    session: SessionDep,
    caller: Writer,
    idem: IdempotencyDep,
) -> object:
    check, application = await service.record_mfa_attestation(
        session, caller.partner_id, customer_id, body, caller.client_id
    )
    return await idem.respond(await _recorded(session, check, application), 201)


@router.post(
    "/{customer_id}/phone-contact",
    status_code=201,
    response_model=CheckRecordedOut,
    summary="Record a personal phone call with the contact",
    description="Staff called the contact: `confirmed` true lowers the risk score, false (the "
    "contact could not confirm the application) raises it.",
)
async def record_phone_contact(
    customer_id: uuid.UUID,
    body: PhoneContactIn,
    session: SessionDep,
    caller: Writer,
    idem: IdempotencyDep,
) -> object:
    check, application = await service.record_phone_contact(
        session, caller.partner_id, customer_id, body, caller.client_id
    )
    return await idem.respond(await _recorded(session, check, application), 201)


@router.get(
    "/{customer_id}/checks",
    response_model=list[CheckOut],
    summary="The customer's checks",
    description="Every check and attestation, oldest first, with the provider's whole answer.",
)
async def list_checks(
    customer_id: uuid.UUID, session: SessionDep, caller: Reader
) -> list[CheckOut]:
    rows = await service.list_checks(session, caller.partner_id, customer_id)
    return [CheckOut.model_validate(row, from_attributes=True) for row in rows]
