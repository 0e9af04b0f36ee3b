"""Revoked tokens and clients, held in memory and refreshed from the database every second,
so every gateway replica refuses them without a query per request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.auth import Caller
from partnerguard.common.db.engine import Database
from partnerguard.common.errors import Unauthorized
from partnerguard.gateway.clients.repository import ClientRepository
from partnerguard.gateway.oauth.repository import RevokedTokenRepository

log = structlog.get_logger()


class RevocationList:
    def __init__(self, db: Database, token_lifetime: timedelta) -> None:
        self.db = db
        # A client revoked longer ago than a token lives has no valid tokens left to refuse.
        self.horizon = token_lifetime + timedelta(minutes=5)
        self._tokens: dict[str, float] = {}  # jti -> expiry (epoch seconds)
        self._clients: dict[str, datetime] = {}  # client_id -> revoked at
        self._since: datetime | None = None

    def check(self, caller: Caller) -> None:
        """Refuse a revoked token, or any token of a client revoked after it was issued."""
        if caller.token_id is not None and caller.token_id in self._tokens:
            raise Unauthorized("the token has been revoked")
        if caller.client_id in self._clients:
            raise Unauthorized("the client has been revoked")

    def add_token(self, jti: str, expires_at: float) -> None:
        """Known at once on this replica; others learn it at their next refresh."""
        self._tokens[jti] = expires_at

    def add_client(self, client_id: str) -> None:
        self._clients[client_id] = datetime.now(UTC)

    async def refresh(self) -> None:
        now = datetime.now(UTC)
        # Re-read a little overlap: rows commit in any order, so a late commit is not skipped.
        since = (self._since - timedelta(seconds=30)) if self._since else now - self.horizon
        async with self.db.sweep_session() as session:
            tokens, clients = await _revoked_since(session, since)
        for jti, expires_at in tokens:
            self._tokens[jti] = expires_at.timestamp()
        for client_id, revoked_at in clients:
            self._clients[client_id] = revoked_at
        self._since = now
        self._forget_expired(now)

    def _forget_expired(self, now: datetime) -> None:
        epoch = time.time()
        self._tokens = {jti: exp for jti, exp in self._tokens.items() if exp > epoch}
        self._clients = {c: at for c, at in self._clients.items() if at > now - self.horizon}

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("revocation.refresh_failed", error=repr(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass


async def _revoked_since(
    session: AsyncSession, since: datetime
) -> tuple[list[tuple[str, datetime]], list[tuple[str, datetime]]]:
    tokens = await RevokedTokenRepository(session).revoked_since(since)
    clients = await ClientRepository(session).revoked_since(since)
    return list(tokens), list(clients)
