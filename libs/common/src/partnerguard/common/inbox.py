"""Inbox: a consumer records each handled event id in the same transaction as its effect."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database

_RECORD = text(
    "INSERT INTO inbox_events (consumer, event_id) VALUES (:consumer, :event_id) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def record_once(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """True the first time ``consumer`` sees ``event_id`` in a committed transaction.

    A concurrent duplicate waits on the unique key until the first transaction ends, then
    sees it (committed: False) or takes over (rolled back: True).
    """
    row = await session.execute(_RECORD, {"consumer": consumer, "event_id": event_id})
    return row.first() is not None


async def purge_inbox(db: Database, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget handled ids older than any redelivery could be (stream retention)."""
    async with db.sweep_session() as session:
        result = await session.execute(
            text("DELETE FROM inbox_events WHERE handled_at < now() - make_interval(secs => :s)"),
            {"s": older_than.total_seconds()},
        )
    return int(getattr(result, "rowcount", 0) or 0)
