"""The audit chain's hash: every field and the link to the previous entry are covered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.enforcement.audit.chain import GENESIS, entry_hash

BASE: dict[str, Any] = {
    "partner_id": uuid.UUID(int=1),
    "seq": 1,
    "entry_id": uuid.UUID(int=2),
    "actor": "client:ops",
    "action": "hold.placed",
    "subject_type": "hold",
    "subject_id": "h-1",
    "reason": "nonpayment",
    "evidence": {"days_overdue": 31, "amount": 12000},
    "at": datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC),
    "prev_hash": GENESIS,
}
CHANGES: dict[str, Any] = {
    "partner_id": uuid.UUID(int=9),
    "seq": 2,
    "entry_id": uuid.UUID(int=3),
    "actor": "client:other",
    "action": "hold.released",
    "subject_type": "case",
    "subject_id": "h-2",
    "reason": None,
    "evidence": {"days_overdue": 30, "amount": 12000},
    "at": BASE["at"] + timedelta(microseconds=1),
    "prev_hash": "f" * 64,
}


def test_the_hash_is_a_stable_sha256_of_the_entry() -> None:
    first = entry_hash(**BASE)
    assert len(first) == 64
    assert entry_hash(**BASE) == first
    # Key order inside the evidence does not matter: it is hashed canonically.
    reordered = {**BASE, "evidence": {"amount": 12000, "days_overdue": 31}}
    assert entry_hash(**reordered) == first


@given(st.sampled_from(sorted(CHANGES)))
def test_changing_any_field_changes_the_hash(field: str) -> None:
    assert entry_hash(**{**BASE, field: CHANGES[field]}) != entry_hash(**BASE)


def test_the_same_instant_in_another_offset_hashes_alike_only_once_normalised() -> None:
    """The log hashes UTC (what the database gives back); the same instant written with
    another offset is a different text, so the writer normalises before hashing."""
    elsewhere = BASE["at"].astimezone(ZoneInfo("Europe/Berlin"))
    assert entry_hash(**{**BASE, "at": elsewhere}) != entry_hash(**BASE)
    assert entry_hash(**{**BASE, "at": elsewhere.astimezone(UTC)}) == entry_hash(**BASE)
