"""Client identifiers and secrets: random, shown once, kept only as an Argon2id hash."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106's second recommended option (64 MiB, 3 passes): slow to guess offline, and hashing
# runs in a worker thread so it never stalls the event loop.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
# Compared against when the client is unknown, so a wrong client_id costs as long as a wrong
# secret and response time does not tell which clients exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(32))


def new_client_id() -> str:
    return "pgc_" + secrets.token_urlsafe(18)


def new_client_secret() -> str:
    return "pgs_" + secrets.token_urlsafe(32)


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, secret)


def _verify(hashes: tuple[str, ...], secret: str) -> bool:
    matched = False
    for stored in hashes:
        try:
            matched = _HASHER.verify(stored, secret) or matched
        except (VerificationError, InvalidHashError):
            continue
    return matched


async def verify_secret(hashes: tuple[str, ...], secret: str) -> bool:
    """Whether ``secret`` matches one of ``hashes``; with none, still spends the time of one."""
    return await asyncio.to_thread(_verify, hashes or (_DUMMY_HASH,), secret) and bool(hashes)
