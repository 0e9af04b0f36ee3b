"""Cases: open (from an event or by hand), a timeline of evidence, the fraud window, the one-time
compromise credit request, closing, and the credit clock's reminders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound, PolicyViolation, Unprocessable
from partnerguard.common.events.catalog import EventData
from partnerguard.common.events.types.enforcement import (
    CaseClosed,
    CaseKind,
    CaseOpened,
    CaseOutcome,
    CreditRequestDeadlineNear,
)
from partnerguard.common.ids import new_id
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.cases import credit
from partnerguard.enforcement.cases.credit import EXPLANATIONS, CreditFacts, Ineligibility
from partnerguard.enforcement.cases.repository import (
    CaseEntryRepository,
    CaseRepository,
    CreditRequestRepository,
    RegistryFacts,
)
from partnerguard.enforcement.cases.schemas import (
    CaseIn,
    CaseOut,
    CaseStatus,
    CreditRequestIn,
    CreditRequestOut,
    CreditView,
    EntryIn,
    EntryKind,
    EntryOut,
)
from partnerguard.enforcement.events import tell
from partnerguard.enforcement.models import Case, CaseEntry, CreditRequest

log = structlog.get_logger()

CLOCK_ACTOR = "credit-clock"
# Outcomes that say what the vendor did with a filed request.
_OUTCOMES_NEEDING_REQUEST = frozenset({CaseOutcome.CREDIT_GRANTED, CaseOutcome.CREDIT_DENIED})


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def _tell(session: AsyncSession, case: Case, data: EventData) -> None:
    # A customer's events share one aggregate key, as the holds' do: integrators see a
    # customer's case and hold events in the order they happened.
    await tell(
        session,
        data,
        partner_id=case.partner_id,
        subject=case.id,
        customer_id=case.customer_id,
    )


async def _entry(
    session: AsyncSession,
    case: Case,
    kind: EntryKind,
    actor: str,
    now: datetime,
    detail: dict[str, object],
) -> CaseEntry:
    entry = CaseEntry(
        partner_id=case.partner_id,
        case_id=case.id,
        kind=kind.value,
        actor=actor,
        detail=detail,
        at=now,
    )
    return await CaseEntryRepository(session).add(entry)


async def _stored_reasons(session: AsyncSession, case: Case, today: date) -> list[str]:
    """The reasons kept on the case (the credit clock reads them): everything but the choice of
    subscriptions, which is made only when the request is filed."""
    verified = await CaseEntryRepository(session).verified_cases(case.partner_id, [case.id])
    requests = await CreditRequestRepository(session).by_tenants(
        case.partner_id, [case.vendor_tenant_id] if case.vendor_tenant_id else []
    )
    facts = CreditFacts(
        kind=CaseKind(case.kind),
        verified=case.id in verified,
        case_open=case.status == CaseStatus.OPEN.value,
        tenant_known=case.vendor_tenant_id is not None,
        first_usage_on=case.first_fraudulent_usage_on,
        commerce=None,
        already_requested=case.vendor_tenant_id in requests,
    )
    return [reason.value for reason in credit.ineligibility(facts, today)]


def _check_first_usage(first_usage_on: date | None, now: datetime) -> None:
    if first_usage_on is not None and first_usage_on > _today(now):
        raise Unprocessable("first_fraudulent_usage_on cannot be in the future")


# --- opening ----------------------------------------------------------------------------------


async def open_case_from_event(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    kind: CaseKind,
    customer_id: uuid.UUID,
    vendor_tenant_id: uuid.UUID | None,
    source_event_id: uuid.UUID | None,
    summary: str | None,
    first_fraudulent_usage_on: date | None,
    now: datetime,
    actor: str = "event",
    verified: bool = True,
) -> Case:
    """Open a case (one per ``source_event_id``: a repeated event returns the case it opened).

    The vendor tenant ID falls back to the registry's; ``Unprocessable`` when neither knows it.
    Emits ``enforcement.case.opened`` (with the credit deadline when known), is audited, and
    starts the timeline. An account-compromise case is taken as verified unless ``verified``
    is False (then a ``verification`` entry verifies it later)."""
    cases = CaseRepository(session)
    if source_event_id is not None:
        await cases.lock_source_event(partner_id, source_event_id)
        existing = await cases.by_source_event(partner_id, source_event_id)
        if existing is not None:
            return existing
    _check_first_usage(first_fraudulent_usage_on, now)
    if vendor_tenant_id is None:
        customer = await RegistryFacts(session).customer(partner_id, customer_id)
        vendor_tenant_id = customer.vendor_tenant_id if customer else None
    if vendor_tenant_id is None:
        raise Unprocessable("the customer's vendor tenant ID is unknown: give vendor_tenant_id")
    case = await cases.add(
        Case(
            partner_id=partner_id,
            kind=kind.value,
            customer_id=customer_id,
            vendor_tenant_id=vendor_tenant_id,
            status=CaseStatus.OPEN.value,
            summary=summary,
            source_event_id=source_event_id,
            first_fraudulent_usage_on=first_fraudulent_usage_on,
            credit_deadline=credit.deadline_for(kind, first_fraudulent_usage_on),
            ineligible_reasons=[],
            reminders_sent=[],
            opened_at=now,
        )
    )
    await _entry(
        session,
        case,
        EntryKind.OPENED,
        actor,
        now,
        {
            "summary": summary,
            "source_event_id": str(source_event_id) if source_event_id else None,
            "first_fraudulent_usage_on": _iso(first_fraudulent_usage_on),
            "credit_deadline": _iso(case.credit_deadline),
        },
    )
    if verified and kind is CaseKind.ACCOUNT_COMPROMISE:
        await _entry(
            session, case, EntryKind.VERIFICATION, actor, now, {"note": "verified at opening"}
        )
    case.ineligible_reasons = await _stored_reasons(session, case, _today(now))
    await _tell(
        session,
        case,
        CaseOpened(
            case_id=case.id,
            kind=kind,
            customer_id=customer_id,
            vendor_tenant_id=vendor_tenant_id,
            first_fraudulent_usage_on=first_fraudulent_usage_on,
            credit_request_deadline=case.credit_deadline,
            source_event_id=source_event_id,
            opened_at=now,
        ),
    )
    await record(
        session,
        partner_id,
        actor=actor,
        action="case.opened",
        subject_type="case",
        subject_id=case.id,
        at=now,
        reason=summary,
        evidence={
            "kind": kind.value,
            "customer_id": str(customer_id),
            "vendor_tenant_id": str(vendor_tenant_id),
            "source_event_id": str(source_event_id) if source_event_id else None,
            "first_fraudulent_usage_on": _iso(first_fraudulent_usage_on),
            "credit_deadline": _iso(case.credit_deadline),
        },
    )
    log.info("case.opened", case_id=str(case.id), partner_id=str(partner_id), kind=kind.value)
    return case


async def open_case(
    session: AsyncSession, partner_id: uuid.UUID, body: CaseIn, actor: str, now: datetime
) -> Case:
    """Open a case by hand for a customer of the registry (``NotFound`` for any other)."""
    if await RegistryFacts(session).customer(partner_id, body.customer_id) is None:
        raise NotFound("no such customer")
    return await open_case_from_event(
        session,
        partner_id,
        kind=body.kind,
        customer_id=body.customer_id,
        vendor_tenant_id=body.vendor_tenant_id,
        source_event_id=None,
        summary=body.summary,
        first_fraudulent_usage_on=body.first_fraudulent_usage_on,
        now=now,
        actor=actor,
        verified=body.verified,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# --- reading ----------------------------------------------------------------------------------


async def get_case(session: AsyncSession, partner_id: uuid.UUID, case_id: uuid.UUID) -> Case:
    """The partner's case; ``NotFound`` for none, and for another partner's."""
    case = await CaseRepository(session).get(partner_id, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


async def _lock_case(session: AsyncSession, partner_id: uuid.UUID, case_id: uuid.UUID) -> Case:
    case = await CaseRepository(session).locked(partner_id, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


def _require_open(case: Case) -> None:
    if case.status != CaseStatus.OPEN.value:
        raise Conflict("the case is closed")


async def list_cases(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    status: CaseStatus | None,
    kind: CaseKind | None,
    customer_id: uuid.UUID | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Case]:
    return await CaseRepository(session).page(
        partner_id,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        customer_id=customer_id,
        limit=limit,
        after=after,
    )


async def timeline(session: AsyncSession, case: Case) -> list[EntryOut]:
    entries = await CaseEntryRepository(session).timeline(case.partner_id, case.id)
    return [
        EntryOut(id=e.id, kind=EntryKind(e.kind), actor=e.actor, detail=e.detail, at=e.at)
        for e in entries
    ]


def _request_out(request: CreditRequest) -> CreditRequestOut:
    return CreditRequestOut(
        id=request.id,
        case_id=request.case_id,
        vendor_tenant_id=request.vendor_tenant_id,
        subscription_ids=list(request.subscription_ids),
        submitted_by=request.submitted_by,
        submitted_at=request.submitted_at,
        vendor_reference=request.vendor_reference,
    )


async def present(
    session: AsyncSession, partner_id: uuid.UUID, cases: Sequence[Case], today: date
) -> list[CaseOut]:
    """The API's view of cases with their credit as of ``today``, in three queries for any number."""
    ids = [case.id for case in cases]
    verified = await CaseEntryRepository(session).verified_cases(partner_id, ids)
    tenants = [case.vendor_tenant_id for case in cases if case.vendor_tenant_id]
    requests = await CreditRequestRepository(session).by_tenants(partner_id, tenants)
    commerce = await RegistryFacts(session).commerce_by_customer(
        partner_id, list({case.customer_id for case in cases})
    )
    out = []
    for case in cases:
        request = requests.get(case.vendor_tenant_id) if case.vendor_tenant_id else None
        known = commerce.get(case.customer_id)
        # The view cannot know which subscriptions will be claimed: it only says when the
        # customer has subscriptions and none of them is new-commerce.
        chosen: tuple[str, ...] | None = () if known and credit.NEW_COMMERCE not in known else None
        facts = CreditFacts(
            kind=CaseKind(case.kind),
            verified=case.id in verified,
            case_open=case.status == CaseStatus.OPEN.value,
            tenant_known=case.vendor_tenant_id is not None,
            first_usage_on=case.first_fraudulent_usage_on,
            commerce=chosen,
            already_requested=request is not None,
        )
        reasons = credit.ineligibility(facts, today)
        deadline = case.credit_deadline
        own = request is not None and request.case_id == case.id
        out.append(
            CaseOut(
                id=case.id,
                kind=CaseKind(case.kind),
                status=CaseStatus(case.status),
                customer_id=case.customer_id,
                vendor_tenant_id=case.vendor_tenant_id,
                summary=case.summary,
                source_event_id=case.source_event_id,
                verified=case.id in verified,
                credit=CreditView(
                    first_fraudulent_usage_on=case.first_fraudulent_usage_on,
                    deadline=deadline,
                    days_left=credit.days_left(deadline, today) if deadline else None,
                    eligible=not reasons,
                    ineligible_reasons=reasons,
                    requested=own,
                    request=_request_out(request) if own and request else None,
                    reminders_sent=sorted(case.reminders_sent, reverse=True),
                ),
                outcome=CaseOutcome(case.outcome) if case.outcome else None,
                opened_at=case.opened_at,
                closed_at=case.closed_at,
                closed_by=case.closed_by,
            )
        )
    return out


# --- changing ---------------------------------------------------------------------------------


async def add_entry(
    session: AsyncSession,
    partner_id: uuid.UUID,
    case_id: uuid.UUID,
    body: EntryIn,
    actor: str,
    now: datetime,
) -> Case:
    """Add evidence, a note or a verification to an open case's timeline (audited)."""
    case = await _lock_case(session, partner_id, case_id)
    _require_open(case)
    entry = await _entry(
        session, case, EntryKind(body.kind.value), actor, now, {"note": body.note, **body.data}
    )
    if body.kind.value == EntryKind.VERIFICATION.value:
        case.ineligible_reasons = await _stored_reasons(session, case, _today(now))
    await record(
        session,
        partner_id,
        actor=actor,
        action=f"case.{body.kind.value}_added",
        subject_type="case",
        subject_id=case.id,
        at=now,
        reason=body.note,
        evidence={"entry_id": str(entry.id), **body.data},
    )
    return case


async def set_fraud_window(
    session: AsyncSession,
    partner_id: uuid.UUID,
    case_id: uuid.UUID,
    first_usage_on: date,
    actor: str,
    now: datetime,
) -> Case:
    """Set or correct the first usage date of the fraudulent activity: the deadline and the
    eligibility follow, and the reminders start over against the new deadline. ``Conflict``
    once the case is closed or its credit request is filed."""
    _check_first_usage(first_usage_on, now)
    case = await _lock_case(session, partner_id, case_id)
    _require_open(case)
    if case.vendor_tenant_id is not None:
        filed = await CreditRequestRepository(session).by_tenants(
            partner_id, [case.vendor_tenant_id]
        )
        found = filed.get(case.vendor_tenant_id)
        if found is not None and found.case_id == case.id:
            raise Conflict("the credit request is filed: its fraud window can no longer change")
    previous = case.first_fraudulent_usage_on
    case.first_fraudulent_usage_on = first_usage_on
    case.credit_deadline = credit.deadline_for(CaseKind(case.kind), first_usage_on)
    if case.credit_deadline != credit.deadline_for(CaseKind(case.kind), previous):
        case.reminders_sent = []
    case.ineligible_reasons = await _stored_reasons(session, case, _today(now))
    await _entry(
        session,
        case,
        EntryKind.FRAUD_WINDOW,
        actor,
        now,
        {
            "first_fraudulent_usage_on": first_usage_on.isoformat(),
            "previous": _iso(previous),
            "credit_deadline": _iso(case.credit_deadline),
        },
    )
    await record(
        session,
        partner_id,
        actor=actor,
        action="case.fraud_window_set",
        subject_type="case",
        subject_id=case.id,
        at=now,
        evidence={
            "first_fraudulent_usage_on": first_usage_on.isoformat(),
            "previous": _iso(previous),
            "credit_deadline": _iso(case.credit_deadline),
        },
    )
    return case


def _refusal(reasons: Sequence[Ineligibility], legacy: Sequence[uuid.UUID]) -> str:
    parts = []
    for reason in reasons:
        text = f"{reason.value} ({EXPLANATIONS[reason]}"
        if reason is Ineligibility.LEGACY_SUBSCRIPTION:
            text += ": " + ", ".join(str(s) for s in legacy)
        parts.append(text + ")")
    return "the one-time credit cannot be requested: " + "; ".join(parts)


async def request_credit(
    session: AsyncSession,
    partner_id: uuid.UUID,
    case_id: uuid.UUID,
    body: CreditRequestIn,
    actor: str,
    now: datetime,
) -> CreditRequest:
    """Record the filing of the one-time credit request, if it may be filed today.

    ``Conflict`` when the customer tenant already has a request (from any case);
    ``Unprocessable`` for subscriptions the customer does not have; ``PolicyViolation`` (422)
    listing every reason when the rules refuse it."""
    case = await _lock_case(session, partner_id, case_id)
    requests = CreditRequestRepository(session)
    if case.vendor_tenant_id is not None:
        if await requests.by_tenants(partner_id, [case.vendor_tenant_id]):
            raise Conflict("the one-time credit was already requested for this customer tenant")
    wanted = list(dict.fromkeys(body.subscription_ids))
    found = {
        s.subscription_id: s
        for s in await RegistryFacts(session).subscriptions(partner_id, case.customer_id, wanted)
    }
    unknown = [s for s in wanted if s not in found]
    if unknown:
        raise Unprocessable(
            "not subscriptions of the case's customer: " + ", ".join(str(s) for s in unknown)
        )
    verified = await CaseEntryRepository(session).verified_cases(partner_id, [case.id])
    today = _today(now)
    facts = CreditFacts(
        kind=CaseKind(case.kind),
        verified=case.id in verified,
        case_open=case.status == CaseStatus.OPEN.value,
        tenant_known=case.vendor_tenant_id is not None,
        first_usage_on=case.first_fraudulent_usage_on,
        commerce=tuple(found[s].commerce for s in wanted),
        already_requested=False,
    )
    reasons = credit.ineligibility(facts, today)
    if reasons:
        legacy = [s for s in wanted if found[s].commerce != credit.NEW_COMMERCE]
        raise PolicyViolation(_refusal(reasons, legacy))
    assert case.vendor_tenant_id is not None  # tenant_known was checked by the rules
    request = await requests.insert_new(
        {
            "id": new_id(),
            "partner_id": partner_id,
            "case_id": case.id,
            "vendor_tenant_id": case.vendor_tenant_id,
            "subscription_ids": wanted,
            "submitted_by": actor,
            "submitted_at": now,
            "vendor_reference": body.vendor_reference,
        }
    )
    if request is None:
        raise Conflict("the one-time credit was already requested for this customer tenant")
    case.ineligible_reasons = await _stored_reasons(session, case, today)
    evidence: dict[str, object] = {
        "credit_request_id": str(request.id),
        "vendor_tenant_id": str(case.vendor_tenant_id),
        "subscription_ids": [str(s) for s in wanted],
        "vendor_reference": body.vendor_reference,
        "filed_on": today.isoformat(),
        "deadline": _iso(case.credit_deadline),
    }
    await _entry(session, case, EntryKind.CREDIT_REQUESTED, actor, now, evidence)
    await record(
        session,
        partner_id,
        actor=actor,
        action="case.credit_requested",
        subject_type="case",
        subject_id=case.id,
        at=now,
        evidence=evidence,
    )
    log.info("case.credit_requested", case_id=str(case.id), partner_id=str(partner_id))
    return request


async def close_case(
    session: AsyncSession,
    partner_id: uuid.UUID,
    case_id: uuid.UUID,
    *,
    outcome: CaseOutcome,
    note: str | None,
    actor: str,
    now: datetime,
) -> Case:
    """Close an open case with its outcome (``Conflict`` if closed already); emits
    ``enforcement.case.closed`` and is audited. A credit outcome needs a filed request."""
    case = await _lock_case(session, partner_id, case_id)
    _require_open(case)
    if outcome in _OUTCOMES_NEEDING_REQUEST:
        filed = await CreditRequestRepository(session).by_tenants(
            partner_id, [case.vendor_tenant_id] if case.vendor_tenant_id else []
        )
        request = filed.get(case.vendor_tenant_id) if case.vendor_tenant_id else None
        if request is None or request.case_id != case.id:
            raise Unprocessable(f"{outcome.value} needs the case's credit request to be filed")
    case.status = CaseStatus.CLOSED.value
    case.outcome = outcome.value
    case.closed_at = now
    case.closed_by = actor
    case.ineligible_reasons = await _stored_reasons(session, case, _today(now))
    await _entry(
        session, case, EntryKind.CLOSED, actor, now, {"outcome": outcome.value, "note": note}
    )
    await _tell(
        session,
        case,
        CaseClosed(
            case_id=case.id,
            kind=CaseKind(case.kind),
            customer_id=case.customer_id,
            outcome=outcome,
            note=note,
            closed_at=now,
        ),
    )
    await record(
        session,
        partner_id,
        actor=actor,
        action="case.closed",
        subject_type="case",
        subject_id=case.id,
        at=now,
        reason=note,
        evidence={"outcome": outcome.value},
    )
    log.info("case.closed", case_id=str(case.id), outcome=outcome.value)
    return case


# --- the credit clock -------------------------------------------------------------------------


async def remind_batch(
    session: AsyncSession,
    today: date,
    thresholds: Sequence[int],
    now: datetime,
    *,
    batch: int,
    after: tuple[date, uuid.UUID] | None,
) -> tuple[list[Case], int]:
    """One batch of the credit clock in a sweep session: the cases claimed, and how many
    reminders were sent (``enforcement.credit_request.deadline_near``, timeline, audit)."""
    cases = await CaseRepository(session).due_for_reminder(
        today, max(thresholds), batch, after=after
    )
    sent = 0
    for case in cases:
        assert case.credit_deadline is not None
        assert case.vendor_tenant_id is not None
        assert case.first_fraudulent_usage_on is not None
        left = credit.days_left(case.credit_deadline, today)
        threshold = credit.reminder_due(left, thresholds, case.reminders_sent)
        if threshold is None:
            continue
        case.reminders_sent = [*case.reminders_sent, threshold]
        detail: dict[str, object] = {
            "threshold": threshold,
            "days_left": left,
            "deadline": case.credit_deadline.isoformat(),
        }
        await _entry(session, case, EntryKind.REMINDER, CLOCK_ACTOR, now, detail)
        await _tell(
            session,
            case,
            CreditRequestDeadlineNear(
                case_id=case.id,
                customer_id=case.customer_id,
                vendor_tenant_id=case.vendor_tenant_id,
                first_fraudulent_usage_on=case.first_fraudulent_usage_on,
                deadline=case.credit_deadline,
                days_left=left,
            ),
        )
        await record(
            session,
            case.partner_id,
            actor=CLOCK_ACTOR,
            action="case.credit_reminder_sent",
            subject_type="case",
            subject_id=case.id,
            at=now,
            evidence=detail,
        )
        sent += 1
    return list(cases), sent
