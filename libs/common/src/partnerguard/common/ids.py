"""Time-ordered identifiers (UUIDv7, RFC 9562) for rows and events."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A new UUIDv7: unique, and sortable by creation time (index-friendly)."""
    return uuid7()
