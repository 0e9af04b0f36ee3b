"""The gateway's signing keys in memory: the JWKS it publishes, the key it signs with, and the
key source its own token verification reads (no HTTP round trip to itself)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from joserfc.jwk import ECKey, KeySet

from partnerguard.common.db.engine import Database
from partnerguard.common.errors import ServiceUnavailable
from partnerguard.gateway.keys.repository import SigningKeyRepository
from partnerguard.gateway.keys.service import RotationPolicy, ensure_signing_keys, seal_context
from partnerguard.gateway.sealing import Sealer

log = structlog.get_logger()


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    public_jwk: dict[str, Any]
    private: ECKey
    activates_at: datetime
    retires_at: datetime


class KeyStore:
    """A snapshot of the published keys, refreshed from the database."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        policy: RotationPolicy,
        *,
        min_refresh_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.policy = policy
        self.min_refresh_interval = min_refresh_interval
        self._keys: list[PublishedKey] = []
        self._key_set = KeySet([])
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def maintain(self) -> None:
        """Create keys as the rotation policy asks, then reload."""
        async with self.db.session() as session:
            await ensure_signing_keys(session, self.sealer, self.policy)
        await self.reload()

    async def reload(self) -> None:
        async with self._lock:
            async with self.db.session() as session:
                rows = await SigningKeyRepository(session).published(datetime.now(UTC))
            keys = []
            for row in rows:
                raw = self.sealer.unseal(row.sealed_private_key, seal_context(row.kid))
                keys.append(
                    PublishedKey(
                        kid=row.kid,
                        public_jwk=dict(row.public_jwk),
                        private=ECKey.import_key(json.loads(raw)),
                        activates_at=row.activates_at,
                        retires_at=row.retires_at,
                    )
                )
            self._keys = keys
            self._key_set = KeySet([ECKey.import_key(key.public_jwk) for key in keys])
            self._loaded_at = time.monotonic()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in self._keys]}

    def signing_key(self, now: datetime | None = None) -> PublishedKey:
        """The key that signs at ``now``: the most recently activated one already active."""
        at = now or datetime.now(UTC)
        active = [k for k in self._keys if k.activates_at <= at < k.retires_at]
        if not active:
            raise ServiceUnavailable("no signing key is active; the gateway is starting")
        return max(active, key=lambda k: k.activates_at)

    async def key_set(self, kid: str | None) -> KeySet:
        """For token verification; an unknown ``kid`` reloads at most once per interval."""
        known = kid is not None and any(k.kid == kid for k in self._keys)
        if not known and time.monotonic() - self._loaded_at >= self.min_refresh_interval:
            await self.reload()
        return self._key_set
