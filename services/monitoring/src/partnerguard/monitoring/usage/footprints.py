"""Which footprints (a customer's resource types and regions) this process knows are stored.

A feed repeats the same few resource types and regions for a customer millions of times; each
one needs storing once. Footprints are never deleted, so once one is known to be committed it
need not be sent again. A sighting is remembered only after its transaction commits: one
that rolled back is sent again next time.
"""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

Key = tuple[uuid.UUID, uuid.UUID, str, str]


class KnownFootprints:
    def __init__(self, limit: int = 1_000_000) -> None:
        self._known: set[Key] = set()
        self._limit = limit

    def unknown(
        self, partner_id: uuid.UUID, keys: set[tuple[uuid.UUID, str, str]]
    ) -> set[tuple[uuid.UUID, str, str]]:
        known = self._known
        return {key for key in keys if (partner_id, *key) not in known}

    def remember_after_commit(
        self, session: AsyncSession, partner_id: uuid.UUID, keys: list[tuple[uuid.UUID, str, str]]
    ) -> None:
        if not keys:
            return

        def committed(_: object) -> None:
            if len(self._known) + len(keys) > self._limit:
                self._known.clear()  # bounded; forgetting costs only a redundant insert
            self._known.update((partner_id, *key) for key in keys)

        event.listen(session.sync_session, "after_commit", committed, once=True)
