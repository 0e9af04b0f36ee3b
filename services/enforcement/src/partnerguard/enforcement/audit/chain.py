"""The hash chain: each entry's hash covers its content and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def entry_hash(
    *,
    partner_id: uuid.UUID,
    seq: int,
    entry_id: uuid.UUID,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    reason: str | None,
    evidence: dict[str, Any],
    at: datetime,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [
            str(partner_id),
            seq,
            str(entry_id),
            actor,
            action,
            subject_type,
            subject_id,
            reason,
            evidence,
            at.isoformat(timespec="microseconds"),
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
