"""The audit API's contract: entries as recorded, pages of them, and a verification's result."""

from __future__ import annotations

import base64
import json
import uuid

from pydantic import AwareDatetime, BaseModel, Field, JsonValue

from partnerguard.common.errors import BadRequest


class AuditEntryOut(BaseModel):
    seq: int = Field(description="Position in the partner's chain, from 1.")
    id: uuid.UUID
    actor: str
    action: str
    subject_type: str
    subject_id: str
    reason: str | None
    evidence: dict[str, JsonValue]
    at: AwareDatetime
    prev_hash: str
    hash: str = Field(description="SHA-256 over the entry and the previous entry's hash.")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next (older) page."
    )


class VerificationOut(BaseModel):
    intact: bool
    entries: int = Field(description="Entries checked (up to and including the first broken one).")
    first_broken_seq: int | None = None
    problem: str | None = None


def encode_cursor(before_seq: int) -> str:
    raw = json.dumps({"before_seq": before_seq}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The seq a page continues below; ``BadRequest`` for a cursor this API did not issue."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        seq = body["before_seq"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("the cursor is not one this API issued") from exc
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadRequest("the cursor is not one this API issued")
    return seq
