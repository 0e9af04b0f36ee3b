"""Billing accounts: open (from an approval or by the partner), read, list and change terms."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.exposure import check_exposure
from partnerguard.billing.accounts.gate import try_clear
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.accounts.schemas import AccountIn, AccountPatch
from partnerguard.billing.models import Account
from partnerguard.billing.money import money
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.errors import Conflict, NotFound, Unprocessable
from partnerguard.common.events.types.billing import AccountOpened
from partnerguard.common.events.types.onboarding import CustomerApproved
from partnerguard.common.ids import new_id

log = structlog.get_logger()


async def open_account(
    session: AsyncSession, partner_id: uuid.UUID, body: AccountIn, now: datetime
) -> Account:
    """Open the customer's account on the partner's terms; ``Conflict`` if it has one."""
    account = await _insert(
        session,
        partner_id,
        {
            "customer_id": body.customer_id,
            "currency": body.currency,
            "country": body.country,
            "risk_tier": body.risk_tier.value if body.risk_tier else None,
            "credit_limit": body.credit_limit,
            "prepayment_required": body.prepayment_required,
            "prepayment_amount": body.prepayment_amount if body.prepayment_required else 0,
            "billing_email": str(body.billing_email) if body.billing_email else None,
            "vendor_tenant_id": body.vendor_tenant_id,
            "opened_by": "api",
        },
        now,
    )
    if account is None:
        raise Conflict("the customer already has a billing account")
    return account


async def open_from_approval(
    session: AsyncSession,
    partner_id: uuid.UUID,
    approved: CustomerApproved,
    settings: BillingSettings,
    now: datetime,
) -> Account | None:
    """Open the account onboarding's approval asks for, on the terms of its risk tier; None
    when the customer already has one (the partner opened it first, or the event came twice)."""
    tier = approved.risk_tier.value
    return await _insert(
        session,
        partner_id,
        {
            "customer_id": approved.customer_id,
            "currency": settings.default_currency,
            "country": approved.country,
            "risk_tier": tier,
            "credit_limit": settings.tier_credit_limits.get(tier),
            "prepayment_required": approved.prepayment_required,
            "prepayment_amount": settings.tier_prepayment_amounts.get(tier, 0)
            if approved.prepayment_required
            else 0,
            "billing_email": None,
            "vendor_tenant_id": approved.vendor_tenant_id,
            "opened_by": "event",
        },
        now,
    )


async def _insert(
    session: AsyncSession, partner_id: uuid.UUID, values: dict[str, object], now: datetime
) -> Account | None:
    account = await AccountRepository(session).insert_new(
        {"id": new_id(), "partner_id": partner_id, **values}
    )
    if account is None:
        return None
    await tell(
        session,
        account,
        AccountOpened(
            account_id=account.id,
            customer_id=account.customer_id,
            currency=account.currency,
            prepayment_required=account.prepayment_required,
            exposure_limit=money(account.credit_limit, account.currency)
            if account.credit_limit is not None
            else None,
            opened_at=now,
        ),
        subject=account.id,
    )
    # Spend may have arrived before the account: a new account can start over its limit.
    await check_exposure(session, account, now)
    log.info(
        "account.opened",
        account_id=str(account.id),
        partner_id=str(partner_id),
        opened_by=account.opened_by,
    )
    return account


async def get_account(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Account:
    """The partner's account ``id_``; ``NotFound`` for none, and for another partner's."""
    account = await AccountRepository(session).get(partner_id, id_)
    if account is None:
        raise NotFound("no such billing account")
    return account


async def lock_account(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Account:
    """The partner's account ``id_``, row-locked until commit: take it before changing the
    account's money, so concurrent changes to one account apply one after the other."""
    account = await AccountRepository(session).locked(partner_id, id_)
    if account is None:
        raise NotFound("no such billing account")
    return account


async def list_accounts(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None,
    cleared: bool | None,
    delinquent: bool | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[Account]:
    return await AccountRepository(session).page(
        partner_id,
        customer_id=customer_id,
        cleared=cleared,
        delinquent=delinquent,
        limit=limit,
        after=after,
    )


async def change_terms(
    session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID, patch: AccountPatch, now: datetime
) -> Account:
    """Apply ``patch``; an eased gate may clear the account, a new limit may be crossed."""
    account = await lock_account(session, partner_id, id_)
    given = patch.model_fields_set
    if "risk_tier" in given:
        account.risk_tier = patch.risk_tier.value if patch.risk_tier else None
    if patch.remove_credit_limit:
        account.credit_limit = None
    elif patch.credit_limit is not None:
        account.credit_limit = patch.credit_limit
    if patch.prepayment_required is not None:
        account.prepayment_required = patch.prepayment_required
    if patch.prepayment_amount is not None:
        account.prepayment_amount = patch.prepayment_amount
    if account.prepayment_required and account.prepayment_amount <= 0:
        raise Unprocessable("prepayment_amount must be positive when prepayment is required")
    if "billing_email" in given:
        account.billing_email = str(patch.billing_email) if patch.billing_email else None
    if patch.country is not None:
        account.country = patch.country
    await try_clear(session, account, now)
    await check_exposure(session, account, now)
    log.info("account.terms_changed", account_id=str(account.id), fields=sorted(given))
    return account
