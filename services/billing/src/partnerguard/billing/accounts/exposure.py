"""Exposure: what the partner stands to lose on a customer now — open receivables plus unbilled
usage, less the credit balance it holds — against the account's credit limit.

``billing.exposure.limit_exceeded`` fires when exposure crosses the limit, once per crossing
(``over_limit`` remembers the last check); callers run :func:`check_exposure` after anything that
moves exposure or the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.repository import AccountRepository
from partnerguard.billing.models import Account
from partnerguard.billing.money import money
from partnerguard.common.events.types.billing import ExposureLimitExceeded

log = structlog.get_logger()


@dataclass(frozen=True)
class Exposure:
    """An account's exposure and its parts, in minor units of the account's currency."""

    open_receivables: int
    unbilled_usage: int
    credit_balance: int
    credit_limit: int | None

    @property
    def total(self) -> int:
        return self.open_receivables + self.unbilled_usage - self.credit_balance

    @property
    def over_limit(self) -> bool:
        return self.credit_limit is not None and self.total > self.credit_limit

    @property
    def headroom(self) -> int | None:
        """What may still be owed before the limit; negative when over, None when unlimited."""
        return None if self.credit_limit is None else self.credit_limit - self.total


async def exposure_of(session: AsyncSession, account: Account) -> Exposure:
    repository = AccountRepository(session)
    _, credit = (await repository.money_held([account.id])).get(account.id, (0, 0))
    return Exposure(
        open_receivables=await repository.open_receivables(account.id),
        unbilled_usage=await repository.unbilled_usage(account),
        credit_balance=credit,
        credit_limit=account.credit_limit,
    )


async def check_exposure(session: AsyncSession, account: Account, now: datetime) -> Exposure:
    """Recompute the account's exposure; emit the event when it has just crossed the limit."""
    exposure = await exposure_of(session, account)
    if exposure.over_limit and not account.over_limit:
        assert exposure.credit_limit is not None
        await tell(
            session,
            account,
            ExposureLimitExceeded(
                customer_id=account.customer_id,
                account_id=account.id,
                exposure=money(exposure.total, account.currency),
                limit=money(exposure.credit_limit, account.currency),
                detected_at=now,
            ),
            subject=account.customer_id,
        )
        log.info(
            "account.over_limit", account_id=str(account.id), partner_id=str(account.partner_id)
        )
    if exposure.over_limit != account.over_limit:
        account.over_limit = exposure.over_limit
    return exposure
