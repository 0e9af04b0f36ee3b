"""Signing-key rotation without downtime.

A key is published (in the JWKS) from its creation, signs from ``activates_at`` until
``retires_at`` and stays published until ``expires_at`` = retirement + the longest token
lifetime + clock leeway, so every token it signed verifies until it expires. A successor is
created ``publish_lead`` before it takes over, so caches of the JWKS hold it before the first
token it signs arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.ids import new_id
from partnerguard.gateway.keys.repository import SigningKeyRepository
from partnerguard.gateway.models import SigningKey
from partnerguard.gateway.sealing import Sealer

log = structlog.get_logger()

ALGORITHM = "ES256"


@dataclass(frozen=True)
class RotationPolicy:
    publish_lead: timedelta
    signing_period: timedelta
    token_lifetime: timedelta
    leeway: timedelta = timedelta(seconds=60)

    def expiry(self, retires_at: datetime) -> datetime:
        return retires_at + self.token_lifetime + self.leeway


def seal_context(kid: str) -> str:
    return f"signing-key:{kid}"


def _new_key(
    sealer: Sealer, policy: RotationPolicy, activates_at: datetime, now: datetime
) -> SigningKey:
    kid = str(new_id())
    private = ECKey.generate_key("P-256", {"kid": kid, "use": "sig", "alg": ALGORITHM})
    retires_at = activates_at + policy.signing_period
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        sealed_private_key=sealer.seal(
            json.dumps(private.as_dict(private=True)).encode(), seal_context(kid)
        ),
        public_jwk=private.as_dict(private=False),
        created_at=now,
        activates_at=activates_at,
        retires_at=retires_at,
        expires_at=policy.expiry(retires_at),
    )


async def ensure_signing_keys(
    session: AsyncSession, sealer: Sealer, policy: RotationPolicy
) -> SigningKey | None:
    """Make sure a key signs now and its successor is published in time; the key created, if any.

    Safe on every replica at once: creation is serialised by an advisory lock.
    """
    keys = SigningKeyRepository(session)
    await keys.lock()
    now = await keys.now()
    latest = await keys.latest()
    if latest is None or latest.retires_at <= now:
        # Nothing signs: the first start, or every replica was down past the last retirement.
        created = _new_key(sealer, policy, now, now)
    elif latest.retires_at - now <= policy.publish_lead:
        created = _new_key(sealer, policy, latest.retires_at, now)
    else:
        created = None
    if created is not None:
        await keys.add(created)
        log.info("signing_key.created", kid=created.kid, activates_at=str(created.activates_at))
    await keys.purge_expired(now)
    return created


async def rotate_signing_key(
    session: AsyncSession, sealer: Sealer, policy: RotationPolicy, *, immediately: bool = False
) -> SigningKey:
    """Start a new key now: it signs after the publish lead (or at once, when a key leaked).

    The current key retires when the new one takes over and stays published until its tokens
    expire. ``immediately`` skips the lead: caches refetch the JWKS on the unknown ``kid``.
    """
    keys = SigningKeyRepository(session)
    await keys.lock()
    now = await keys.now()
    takes_over = now if immediately else now + policy.publish_lead
    for key in await keys.published(now):
        if key.retires_at > takes_over:
            key.retires_at = max(takes_over, key.activates_at)
            key.expires_at = policy.expiry(key.retires_at)
    created = _new_key(sealer, policy, takes_over, now)
    await keys.add(created)
    log.info("signing_key.rotated", kid=created.kid, activates_at=str(takes_over))
    return created
