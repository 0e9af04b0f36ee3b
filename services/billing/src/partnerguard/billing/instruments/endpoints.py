"""HTTP: payment instruments, the partner's BIN ranges and its instrument policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from partnerguard.billing.deps import Reader, SettingsDep, Writer
from partnerguard.billing.instruments import service
from partnerguard.billing.instruments.bins import Funding
from partnerguard.billing.instruments.policy import DEFAULT_REFUSED
from partnerguard.billing.instruments.schemas import (
    BinRangeIn,
    BinRangeOut,
    InstrumentIn,
    InstrumentOut,
    InstrumentPolicyIn,
    InstrumentPolicyOut,
    InstrumentStatus,
    PolicyException,
)
from partnerguard.billing.models import Account, BinRange, Instrument, InstrumentClass
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.billing import InstrumentRejection
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep

router = APIRouter(prefix="/v1/billing", tags=["instruments"], responses=PROBLEM_RESPONSES)

_INSTRUMENTS = "/accounts/{account_id}/instruments"


def _out(instrument: Instrument, account: Account) -> InstrumentOut:
    is_bank_debit = instrument.declared_class == InstrumentClass.BANK_DEBIT
    return InstrumentOut(
        id=instrument.id,
        account_id=instrument.account_id,
        customer_id=account.customer_id,
        type=InstrumentClass(instrument.instrument_class),
        declared_type=InstrumentClass(instrument.declared_class),
        classified_by=instrument.classified_by,
        status=InstrumentStatus(instrument.status),
        rejection_reason=InstrumentRejection(instrument.rejection_reason)
        if instrument.rejection_reason
        else None,
        rejection_detail=instrument.rejection_detail,
        card_bin=instrument.card_bin,
        card_last4=None if is_bank_debit else instrument.last4,
        card_brand=instrument.card_brand,
        country=instrument.country,
        holder_name=instrument.holder_name,
        iban_last4=instrument.last4 if is_bank_debit else None,
        created_at=instrument.created_at,
        removed_at=instrument.removed_at,
    )


def _range_out(row: BinRange) -> BinRangeOut:
    return BinRangeOut(
        id=row.id,
        prefix=row.prefix,
        funding=Funding(row.funding),
        brand=row.brand,
        country=row.country,
        note=row.note,
        created_at=row.created_at,
    )


@router.post(
    _INSTRUMENTS,
    status_code=201,
    response_model=InstrumentOut,
    summary="Register a payment instrument",
    description="Cards give their BIN (first 6 to 8 digits) and last 4 digits, never the full "
    "number: a request with any other field (such as `card_number`) is refused with 422 and "
    "nothing of it is stored. A card's BIN is looked up in the BIN tables (the longest "
    "matching prefix; the partner's ranges, then the operator's, then the built-in samples) "
    "and its funding decides the class: a `credit_card` whose BIN is prepaid is a "
    "`prepaid_card`. A card declared prepaid stays prepaid.\n\n"
    "The partner's instrument policy then judges the class (by default prepaid cards and "
    "stored value are refused, unless an exception allows them for the customer). **Both "
    "outcomes answer 201**: a refused instrument is recorded with `status: rejected`, its "
    "`rejection_reason` and a `rejection_detail`, and `billing.instrument.rejected` is "
    "emitted; the record is the evidence of what the customer tried to pay with, so the "
    "request did change something and is not an error. An accepted instrument may clear the "
    "account (`billing.account.cleared`) when no prepayment is outstanding. Send an "
    "`Idempotency-Key` to retry safely.",
)
async def register_instrument(
    account_id: uuid.UUID,
    body: InstrumentIn,
    caller: Writer,
    session: SessionDep,
    settings: SettingsDep,
    idem: IdempotencyDep,
) -> JSONResponse:
    instrument, account = await service.register_instrument(
        session, caller.partner_id, account_id, body, settings, datetime.now(UTC)
    )
    return await idem.respond(_out(instrument, account), 201)


@router.get(
    _INSTRUMENTS, response_model=Page[InstrumentOut], summary="List an account's instruments"
)
async def list_instruments(
    account_id: uuid.UUID,
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        InstrumentStatus | None, Query(description="Only those in this status.")
    ] = None,
) -> Page[InstrumentOut]:
    rows, account = await service.list_instruments(
        session,
        caller.partner_id,
        account_id,
        status=status,
        limit=params.limit,
        after=params.after_id,
    )
    return make_page([_out(row, account) for row in rows], params, lambda i: i.id)


@router.get(
    _INSTRUMENTS + "/{instrument_id}", response_model=InstrumentOut, summary="Get an instrument"
)
async def get_instrument(
    account_id: uuid.UUID, instrument_id: uuid.UUID, caller: Reader, session: SessionDep
) -> InstrumentOut:
    instrument, account = await service.get_instrument(
        session, caller.partner_id, account_id, instrument_id
    )
    return _out(instrument, account)


@router.delete(
    _INSTRUMENTS + "/{instrument_id}",
    response_model=InstrumentOut,
    summary="Remove an instrument",
    description="The instrument is kept with `status: removed` (deleting it again changes "
    "nothing). A rejected instrument is evidence and cannot be removed (409). Removal does "
    "not take back a clearance the account already has.",
)
async def remove_instrument(
    account_id: uuid.UUID, instrument_id: uuid.UUID, caller: Writer, session: SessionDep
) -> InstrumentOut:
    instrument, account = await service.remove_instrument(
        session, caller.partner_id, account_id, instrument_id, datetime.now(UTC)
    )
    return _out(instrument, account)


# --- BIN ranges -------------------------------------------------------------------------------


@router.get(
    "/bin-ranges", response_model=Page[BinRangeOut], summary="List the partner's BIN ranges"
)
async def list_bin_ranges(
    caller: Reader, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> Page[BinRangeOut]:
    rows = await service.list_bin_ranges(
        session, caller.partner_id, limit=params.limit, after=params.after_id
    )
    return make_page([_range_out(row) for row in rows], params, lambda r: r.id)


@router.post(
    "/bin-ranges",
    status_code=201,
    response_model=BinRangeOut,
    summary="Add a BIN range",
    description="The partner's own classification of card numbers starting with `prefix`. "
    "Lookups take the longest matching prefix across the partner's, the operator's and the "
    "built-in ranges; on the same prefix the partner's range wins. A prefix the partner "
    "already lists is a 409. Applies to instruments registered from now on.",
)
async def add_bin_range(
    body: BinRangeIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    row = await service.add_bin_range(session, caller.partner_id, body)
    return await idem.respond(_range_out(row), 201)


@router.delete("/bin-ranges/{bin_range_id}", status_code=204, summary="Delete a BIN range")
async def remove_bin_range(
    bin_range_id: uuid.UUID, caller: Writer, session: SessionDep
) -> Response:
    await service.remove_bin_range(session, caller.partner_id, bin_range_id)
    return Response(status_code=204)


# --- the instrument policy --------------------------------------------------------------------


def _policy_out(policy: service.PolicyInForce) -> InstrumentPolicyOut:
    if policy.row is None:
        return InstrumentPolicyOut(refused=sorted(DEFAULT_REFUSED), exceptions=[], is_default=True)
    return InstrumentPolicyOut(
        refused=[InstrumentClass(value) for value in policy.row.refused],
        exceptions=[PolicyException.model_validate(item) for item in policy.row.exceptions],
        is_default=False,
        updated_by=policy.row.updated_by,
        updated_at=policy.row.updated_at,
    )


@router.get(
    "/instrument-policy",
    response_model=InstrumentPolicyOut,
    summary="The instrument policy in force",
    description="Until the partner saves its own, the default: prepaid cards and stored value "
    "refused, no exceptions.",
)
async def get_policy(caller: Reader, session: SessionDep) -> InstrumentPolicyOut:
    return _policy_out(await service.policy_in_force(session, caller.partner_id))


@router.put(
    "/instrument-policy",
    response_model=InstrumentPolicyOut,
    summary="Replace the instrument policy",
    description="`refused` lists the classes refused for every customer; each exception "
    "allows listed classes for one customer, with the reason, until `expires_on` (inclusive; "
    "null for no end). Judges instruments registered from now on; those already registered "
    "keep their status.",
)
async def put_policy(
    body: InstrumentPolicyIn, caller: Writer, session: SessionDep
) -> InstrumentPolicyOut:
    return _policy_out(
        await service.save_policy(session, caller.partner_id, body, caller.client_id)
    )
