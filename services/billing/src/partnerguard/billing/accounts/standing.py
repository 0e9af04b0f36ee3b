"""Standing: a customer delinquent since the dunning suspension step is back in good standing
once nothing it owes is overdue. Callers run :func:`restore_if_current` after anything that
can bring an account current (a posted payment, a credit note, a void, a write-off)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.models import Account
from partnerguard.common.events.types.billing import CustomerInGoodStanding

log = structlog.get_logger()


async def restore_if_current(
    session: AsyncSession,
    account: Account,
    *,
    today: date,
    now: datetime,
    payment_id: uuid.UUID | None = None,
) -> bool:
    """End the account's delinquency if nothing is overdue on ``today``; True when it did."""
    if account.delinquent_since is None:
        return False
    if await AccountRepository(session).oldest_overdue_due_on(account.id, today) is not None:
        return False
    account.delinquent_since = None
    await tell(
        session,
        account,
        CustomerInGoodStanding(
            customer_id=account.customer_id,
            account_id=account.id,
            last_payment_id=payment_id,
            restored_at=now,
        ),
        subject=account.customer_id,
    )
    log.info(
        "account.good_standing", account_id=str(account.id), partner_id=str(account.partner_id)
    )
    return True
