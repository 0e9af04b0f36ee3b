"""Receivables: the aging report with DSO, and exposure against the credit limit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.exposure import Exposure, exposure_of
from partnerguard.billing.accounts.service import get_account
from partnerguard.billing.models import Account
from partnerguard.billing.receivables.repository import (
    AgingRepository,
    CurrencyAgingRow,
    CustomerAgingRow,
    ExposureRepository,
)
from partnerguard.common.errors import Unprocessable


@dataclass(frozen=True)
class Aging:
    as_of: date
    totals: list[CurrencyAgingRow]
    customers: list[CustomerAgingRow]


async def aging_report(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    as_of: date,
    today: date,
    customer_id: uuid.UUID | None,
    limit: int,
    after: uuid.UUID | None,
) -> Aging:
    """Aging on ``as_of`` (never after ``today``): a page of customers, totals over all."""
    if as_of > today:
        raise Unprocessable("as_of cannot be in the future")
    repository = AgingRepository(session)
    customers = await repository.by_customer(
        partner_id, as_of, customer_id=customer_id, limit=limit, after=after
    )
    totals = await repository.by_currency(partner_id, as_of, customer_id=customer_id)
    return Aging(as_of, totals, customers)


async def exposure_page(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None,
    over_limit: bool | None,
    limit: int,
    after: uuid.UUID | None,
) -> list[tuple[Account, Exposure]]:
    """Up to ``limit + 1`` accounts with their exposure now (a few queries per account)."""
    accounts: Sequence[Account] = await ExposureRepository(session).accounts_page(
        partner_id, customer_id=customer_id, over_limit=over_limit, limit=limit, after=after
    )
    return [(account, await exposure_of(session, account)) for account in accounts]


async def account_exposure(
    session: AsyncSession, partner_id: uuid.UUID, account_id: uuid.UUID
) -> tuple[Account, Exposure]:
    account = await get_account(session, partner_id, account_id)
    return account, await exposure_of(session, account)
