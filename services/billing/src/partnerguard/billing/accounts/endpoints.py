"""HTTP: billing accounts — open, read, list, change terms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts import service
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.accounts.schemas import AccountIn, AccountOut, AccountPatch, AccountStatus
from partnerguard.billing.deps import Reader, Writer
from partnerguard.billing.models import Account
from partnerguard.billing.money import money
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep

router = APIRouter(prefix="/v1/billing/accounts", tags=["accounts"], responses=PROBLEM_RESPONSES)


async def present(session: AsyncSession, accounts: list[Account]) -> list[AccountOut]:
    """The API's view of accounts, with their posted money summed in one query."""
    held = await AccountRepository(session).money_held([a.id for a in accounts])
    return [_out(account, *held.get(account.id, (0, 0))) for account in accounts]


def _out(account: Account, posted: int, credit: int) -> AccountOut:
    return AccountOut(
        id=account.id,
        customer_id=account.customer_id,
        status=AccountStatus.CLEARED if account.cleared_at else AccountStatus.PENDING,
        currency=account.currency,
        country=account.country,
        risk_tier=RiskTier(account.risk_tier) if account.risk_tier else None,
        credit_limit=money(account.credit_limit, account.currency)
        if account.credit_limit is not None
        else None,
        prepayment_required=account.prepayment_required,
        prepayment=money(account.prepayment_amount, account.currency),
        prepayment_received=money(posted, account.currency),
        credit_balance=money(credit, account.currency),
        billing_email=account.billing_email,
        vendor_tenant_id=account.vendor_tenant_id,
        opened_by=account.opened_by,
        cleared_at=account.cleared_at,
        delinquent_since=account.delinquent_since,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Open a billing account",
    description="Accounts also open on their own when onboarding approves a customer. One "
    "account per customer: a second is a 409. The account is `pending` until it holds an "
    "accepted payment instrument and any required prepayment has posted. Send an "
    "`Idempotency-Key` to retry safely.",
)
async def open_account(
    body: AccountIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    account = await service.open_account(session, caller.partner_id, body, datetime.now(UTC))
    (out,) = await present(session, [account])
    return await idem.respond(out, 201)


@router.get("", response_model=Page[AccountOut], summary="List accounts")
async def list_accounts(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    cleared: Annotated[bool | None, Query(description="Only cleared (or pending) ones.")] = None,
    delinquent: Annotated[bool | None, Query(description="Only delinquent (or not).")] = None,
) -> Page[AccountOut]:
    rows = await service.list_accounts(
        session,
        caller.partner_id,
        customer_id=customer_id,
        cleared=cleared,
        delinquent=delinquent,
        limit=params.limit,
        after=params.after_id,
    )
    return make_page(await present(session, list(rows)), params, lambda a: a.id)


@router.get("/{account_id}", response_model=AccountOut, summary="Get an account")
async def get_account(account_id: uuid.UUID, caller: Reader, session: SessionDep) -> AccountOut:
    account = await service.get_account(session, caller.partner_id, account_id)
    (out,) = await present(session, [account])
    return out


@router.patch(
    "/{account_id}",
    response_model=AccountOut,
    summary="Change an account's terms",
    description="Credit limit, prepayment, risk tier, billing e-mail, calendar country. Easing "
    "the prepayment may clear the account; a lower limit may raise "
    "`billing.exposure.limit_exceeded`.",
)
async def change_terms(
    account_id: uuid.UUID, body: AccountPatch, caller: Writer, session: SessionDep
) -> AccountOut:
    account = await service.change_terms(
        session, caller.partner_id, account_id, body, datetime.now(UTC)
    )
    (out,) = await present(session, [account])
    return out
