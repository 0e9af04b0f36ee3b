"""The asyncpg connection our engines open: it can set the partner with the transaction's BEGIN.

Every tenant transaction sets ``app.partner_id`` before its first statement. Sent on its own,
that setting was a round trip of its own on every request (about 0.15 ms of a worker's CPU, more
than many a query). The asyncpg dialect begins the transaction lazily, with a simple-protocol
``BEGIN`` just before the first statement; this connection appends the setting to that
``BEGIN``, so both travel together and the transaction never runs a statement without it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from partnerguard.common.db.rls import PARTNER_SETTING


class PartnerConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """An asyncpg connection that sets a pending partner with its next ``BEGIN``."""

    _partner_on_begin: str | None = None

    def set_partner_on_begin(self, partner_id: uuid.UUID | None) -> None:
        """Set ``partner_id`` with the next transaction's ``BEGIN`` (None: forget it)."""
        self._partner_on_begin = None if partner_id is None else str(partner_id)

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own signature
    ) -> str:
        partner = self._partner_on_begin
        if partner is not None and not args and query.startswith("BEGIN"):
            self._partner_on_begin = None
            # ``partner`` is the text of a uuid.UUID: hex digits and dashes only.
            query = f"{query}; SELECT set_config('{PARTNER_SETTING}', '{partner}', true)"
        result: str = await super().execute(query, *args, timeout=timeout)
        return result
