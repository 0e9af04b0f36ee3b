"""Checks a customer's month-to-date spend against its budget (filled in by the budgets work)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession


async def evaluate_budget(
    session: AsyncSession, partner_id: uuid.UUID, customer_id: uuid.UUID, day: date, now: datetime
) -> None:
    """After the customer's spend on ``day`` changed: emit each threshold of that month's
    budget reached (once per threshold per month) and the month-end forecast alert."""
    raise NotImplementedError
