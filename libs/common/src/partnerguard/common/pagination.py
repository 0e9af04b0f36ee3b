"""Cursor pagination: ``?limit=&cursor=`` → ``{"items": [...], "next_cursor": ...}``, stable order.

The cursor is the last item's sort key (opaque, base64 JSON). Lists order by a UUIDv7 id,
which is time-ordered and unique, so pages neither skip nor repeat rows under inserts.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from partnerguard.common.errors import BadRequest

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent on the last page."
    )


class PageParams(BaseModel):
    limit: int
    after_id: uuid.UUID | None


def encode_cursor(last_id: uuid.UUID) -> str:
    raw = json.dumps({"after": str(last_id)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body: Any = json.loads(raw)
        return uuid.UUID(body["after"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("the cursor is not one this API issued") from exc


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="From `next_cursor`.")] = None,
) -> PageParams:
    return PageParams(limit=limit, after_id=decode_cursor(cursor) if cursor else None)


def make_page(items: Sequence[T], params: PageParams, id_of: Any) -> Page[T]:
    """Build a page from up to ``limit + 1`` fetched rows (the extra one says there is more)."""
    more = len(items) > params.limit
    shown = list(items[: params.limit])
    next_cursor = encode_cursor(id_of(shown[-1])) if more and shown else None
    return Page(items=shown, next_cursor=next_cursor)
