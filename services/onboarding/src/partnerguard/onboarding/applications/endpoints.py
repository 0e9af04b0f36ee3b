"""HTTP: customer applications — submit, read, list, and the audit trail of each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import PROBLEM_RESPONSES, BadGateway
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.onboarding.adapters import AdapterError
from partnerguard.onboarding.adapters.sanctions import ScreeningRequest
from partnerguard.onboarding.applications import service
from partnerguard.onboarding.applications.repository import ApplicationRepository
from partnerguard.onboarding.applications.schemas import (
    ApplicationIn,
    AssessmentOut,
    CollectionsAcceptanceIn,
    CustomerFilters,
    CustomerOut,
    HistoryEntryOut,
    ReasonOut,
)
from partnerguard.onboarding.checks.service import record_screening
from partnerguard.onboarding.deps import AdaptersDep, Reader, Writer
from partnerguard.onboarding.models import Application
from partnerguard.onboarding.risk_policy.service import PolicyInForce, policy_in_force
from partnerguard.onboarding.scoring import Facts

router = APIRouter(
    prefix="/v1/onboarding/customers", tags=["customers"], responses=PROBLEM_RESPONSES
)


def customer_out(application: Application, in_force: PolicyInForce) -> CustomerOut:
    """The API's view of an application, with what it still needs before approval."""
    assessment = None
    pending: list[str] = []
    if application.facts is not None and application.scored_at is not None:
        assessment = AssessmentOut(
            score=application.score or 0,
            outcome=application.outcome,
            hard_reject=application.hard_reject,
            risk_tier=application.risk_tier,
            prepayment_required=bool(application.prepayment_required),
            reasons=[ReasonOut.model_validate(reason) for reason in application.reasons],
            policy_version=application.policy_version or 0,
            scored_at=application.scored_at,
        )
        if application.status in ("submitted", "pending_verification", "in_review"):
            facts = Facts.model_validate(application.facts)
            pending = service.missing_requirements(application, facts, in_force)
    instrument = None
    if application.instrument_type is not None:
        instrument = {
            "type": application.instrument_type,
            "card_bin": application.card_bin,
            "card_country": application.card_country,
        }
    return CustomerOut(
        customer_id=application.customer_id,
        application_id=application.id,
        status=application.status,
        company={
            "name": application.company_name,
            "domain": application.company_domain,
            "country": application.company_country,
            "address": application.company_address,
            "registration_number": application.registration_number,
        },
        contact={
            "name": application.contact_name,
            "email": application.contact_email,
            "phone": application.contact_phone,
        },
        vendor_tenant_id=application.vendor_tenant_id,
        payment_instrument=instrument,
        signup={
            "ip": str(application.signup_ip) if application.signup_ip is not None else None,
            "user_agent": application.user_agent,
            "device_id": application.device_id,
            "form_fill_seconds": application.form_fill_seconds,
            "ip_country": application.ip_country,
        },
        assessment=assessment,
        pending_requirements=pending,
        mfa_enforced=application.mfa_enforced,
        phone_contact_confirmed=application.phone_contact_confirmed,
        collections_policy_version=application.collections_policy_version,
        claimed_by=application.claimed_by,
        override_requested_by=application.override_requested_by,
        decided_by=application.decided_by,
        decided_at=application.decided_at,
        decision_note=application.decision_note,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


async def present(session: AsyncSession, application: Application) -> CustomerOut:
    return customer_out(application, await policy_in_force(session, application.partner_id))


@router.post(
    "",
    status_code=201,
    response_model=CustomerOut,
    summary="Submit a customer application",
    description="Scores the application at once and answers with its first decision: "
    "`approved`, `rejected`, `in_review`, or `pending_verification` with what is missing. "
    "Send an `Idempotency-Key` to make retries safe.",
)
async def submit_customer(
    body: ApplicationIn,
    session: SessionDep,
    caller: Writer,
    idem: IdempotencyDep,
    adapters: AdaptersDep,
) -> object:
    now = datetime.now(UTC)
    screening = None
    if adapters.sanctions.configured:
        request = ScreeningRequest(
            company_name=body.company.name,
            company_country=body.company.country,
            registration_number=body.company.registration_number,
            contact_name=body.contact.name,
            contact_country=body.company.country,
        )
        try:
            screening = await adapters.sanctions.screen(request)
        except AdapterError as exc:
            # Unscreened is not approvable: refuse now (nothing stored) and let the caller retry.
            raise BadGateway(f"sanctions screening is unavailable: {exc}") from exc
    in_force = await policy_in_force(session, caller.partner_id)
    application = await service.submit_application(
        session,
        caller.partner_id,
        body,
        caller.client_id,
        in_force,
        sanctions_hits=screening.hits if screening else (),
        now=now,
    )
    if screening is not None:
        await record_screening(session, application, screening, caller.client_id)
    return await idem.respond(customer_out(application, in_force), 201)


@router.get("", response_model=Page[CustomerOut], summary="List customers under onboarding")
async def list_customers(
    session: SessionDep,
    caller: Reader,
    filters: Annotated[CustomerFilters, Query()],
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[CustomerOut]:
    rows = await ApplicationRepository(session).search(
        caller.partner_id, filters, params.limit, params.after_id
    )
    in_force = await policy_in_force(session, caller.partner_id)
    return make_page(
        [customer_out(row, in_force) for row in rows], params, lambda c: c.application_id
    )


@router.get("/{customer_id}", response_model=CustomerOut, summary="Get a customer")
async def get_customer(customer_id: uuid.UUID, session: SessionDep, caller: Reader) -> CustomerOut:
    application = await service.get_application(session, caller.partner_id, customer_id)
    return await present(session, application)


@router.get(
    "/{customer_id}/history",
    response_model=list[HistoryEntryOut],
    summary="The application's audit trail",
    description="Every state change and decision, with who, when and why, oldest first.",
)
async def get_history(
    customer_id: uuid.UUID, session: SessionDep, caller: Reader
) -> list[HistoryEntryOut]:
    application = await service.get_application(session, caller.partner_id, customer_id)
    events = await ApplicationRepository(session).history(caller.partner_id, application.id)
    return [HistoryEntryOut.model_validate(event, from_attributes=True) for event in events]


@router.post(
    "/{customer_id}/collections-acceptance",
    status_code=201,
    response_model=CustomerOut,
    summary="Record the customer's acceptance of the collections policy",
    description="Required before approval. The version must have been published "
    "(`PUT /v1/onboarding/collections-policy`); time, IP and who accepted are kept as evidence.",
)
async def accept_collections_policy(
    customer_id: uuid.UUID, body: CollectionsAcceptanceIn, session: SessionDep, caller: Writer
) -> CustomerOut:
    application = await service.get_application(
        session, caller.partner_id, customer_id, for_update=True
    )
    await service.record_acceptance(session, application, body, caller.client_id)
    if application.status in service.UNDECIDED:
        await service.reassess(
            session, application, {}, caller.client_id, "collections_policy_accepted"
        )
    return await present(session, application)
