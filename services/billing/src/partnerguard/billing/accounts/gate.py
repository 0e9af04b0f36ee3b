"""The prepayment gate: an account is cleared for provisioning once it holds an accepted
payment instrument and, when its terms require one, the prepayment has posted.

Clearing happens once (``cleared_at``) and is announced by ``billing.account.cleared``; callers
run :func:`try_clear` after anything that can open the gate (an instrument accepted, a payment
posted, the terms eased).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.instruments.classes import event_instrument_type
from partnerguard.billing.models import Account
from partnerguard.billing.money import money
from partnerguard.common.events.types.billing import AccountCleared

log = structlog.get_logger()


async def try_clear(session: AsyncSession, account: Account, now: datetime) -> bool:
    """Clear ``account`` if it now meets the gate; True when this call cleared it."""
    if account.cleared_at is not None:
        return False
    repository = AccountRepository(session)
    instrument_class = await repository.accepted_instrument_class(account.id)
    if instrument_class is None:
        return False
    posted, _ = (await repository.money_held([account.id])).get(account.id, (0, 0))
    if account.prepayment_required and posted < account.prepayment_amount:
        return False
    account.cleared_at = now
    await tell(
        session,
        account,
        AccountCleared(
            account_id=account.id,
            customer_id=account.customer_id,
            instrument_type=event_instrument_type(instrument_class),
            prepayment_received=money(posted, account.currency)
            if account.prepayment_required
            else None,
            cleared_at=now,
        ),
        subject=account.id,
    )
    log.info("account.cleared", account_id=str(account.id), partner_id=str(account.partner_id))
    return True
