"""``Idempotency-Key`` for creates, stored in the same transaction as the create itself.

Same key and same body replay the stored answer (``Idempotent-Replayed: true``); same key and
another body is a 422; a request with the key still in flight is a 409. The key is claimed
with a transaction-scoped advisory lock and its answer written by the create's own
transaction, so the effect and the stored answer commit together or not at all. Keys are
scoped to the calling client and kept ``ttl`` (at least 24 h).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.auth import Caller
from partnerguard.common.errors import BadRequest, Conflict, Unprocessable
from partnerguard.common.tables import IdempotencyKey
from partnerguard.common.web.deps import CallerDep, SessionDep, get_runtime

REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotentReplay(Exception):
    """The stored answer to an earlier request with the same key and body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


class Idempotency:
    """The idempotency state of one create request (a no-op when no key was sent)."""

    def __init__(
        self,
        session: AsyncSession,
        caller: Caller,
        key: str | None,
        request_hash: str,
        ttl: timedelta,
    ) -> None:
        self.session = session
        self.caller = caller
        self.key = key
        self.request_hash = request_hash
        self.ttl = ttl

    async def claim(self) -> None:
        """Take the key for this transaction, or replay / refuse as the contract says."""
        if self.key is None:
            return
        lock_name = f"{self.caller.partner_id}/{self.caller.client_id}/{self.key}"
        locked = await self.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": lock_name},
        )
        if not locked:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        stored = await self.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.partner_id == self.caller.partner_id,
                IdempotencyKey.client_id == self.caller.client_id,
                IdempotencyKey.key == self.key,
                IdempotencyKey.expires_at > func.now(),
            )
        )
        if stored is None:
            return
        if stored.request_hash != self.request_hash:
            raise Unprocessable("this Idempotency-Key was used with a different request body")
        raise IdempotentReplay(stored.response_status, stored.response_body)

    async def respond(self, result: BaseModel | Any, status_code: int = 201) -> JSONResponse:
        """Serialize the answer, store it under the key (same transaction), and return it."""
        # A model dumps itself in pydantic-core; jsonable_encoder would walk the dump again.
        body = (
            result.model_dump(mode="json", by_alias=True)
            if isinstance(result, BaseModel)
            else jsonable_encoder(result)
        )
        if self.key is not None:
            values = {
                "partner_id": self.caller.partner_id,
                "client_id": self.caller.client_id,
                "key": self.key,
                "request_hash": self.request_hash,
                "response_status": status_code,
                "response_body": body,
                "expires_at": datetime.now(UTC) + self.ttl,
            }
            statement = insert(IdempotencyKey).values(**values)
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["partner_id", "client_id", "key"],
                    set_={
                        k: statement.excluded[k]
                        for k in values
                        if k not in ("partner_id", "client_id", "key")
                    },
                )
            )
        return JSONResponse(body, status_code=status_code)


async def get_idempotency(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None,
        Header(description="Makes a create safe to retry: same key and body replay the answer."),
    ] = None,
) -> Idempotency:
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise BadRequest("Idempotency-Key must be 1 to 255 printable ASCII characters")
    ttl = timedelta(hours=max(get_runtime(request).settings.idempotency_ttl_hours, 24))
    if idempotency_key is None:
        return Idempotency(session, caller, None, "", ttl)
    body = await request.body()
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(_canonical(body))
    idem = Idempotency(session, caller, idempotency_key, digest.hexdigest(), ttl)
    await idem.claim()
    return idem


def _canonical(body: bytes) -> bytes:
    """The same JSON with other key order or spacing is the same request."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return body


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


def install_idempotency(app: FastAPI) -> None:
    async def replay(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IdempotentReplay)
        return JSONResponse(exc.body, status_code=exc.status, headers={REPLAYED_HEADER: "true"})

    app.add_exception_handler(IdempotentReplay, replay)


async def purge_expired_keys(session: AsyncSession) -> int:
    result = await session.execute(text("DELETE FROM idempotency_keys WHERE expires_at < now()"))
    return int(getattr(result, "rowcount", 0) or 0)
