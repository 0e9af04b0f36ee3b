"""Usage amounts go to the database as the decimal text they were sent as: stored exactly,
whether the batch was read the fast way or record by record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tests.support.monitoring import RunningMonitoring, usage_record

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
AMOUNTS = ["0012.50", "0.12345678", "999999999999.99999999", "0", "7", "1.10"]


async def _stored(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> list[Any]:
    async with monitoring.db.sweep_session() as session:
        rows = await session.execute(
            text(
                "SELECT record_id, quantity, cost FROM usage_records "
                "WHERE partner_id = :partner_id ORDER BY record_id"
            ),
            {"partner_id": partner_id},
        )
        days = await session.execute(
            text("SELECT sum(cost) FROM customer_days WHERE partner_id = :partner_id"),
            {"partner_id": partner_id},
        )
        return [*rows.all(), days.scalar_one()]


async def test_amounts_are_stored_exactly_however_the_batch_is_read(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    # One customer: its day's total outgrows what any one record may cost.
    customer = uuid.uuid4()
    records = [
        usage_record(customer, T0, amount, quantity=amount, record_id=f"r-{n}")
        for n, amount in enumerate(AMOUNTS)
    ]
    # The same records beside a bad one: read record by record, under another partner.
    other = uuid.uuid4()
    bad = {**records[0], "record_id": "r-bad", "cost": "-1"}

    assert await monitoring.ingest(partner_id, records) == {
        "accepted": len(AMOUNTS),
        "duplicates": 0,
        "rejected": [],
    }
    one_by_one = await monitoring.ingest(other, [*records, bad])

    assert one_by_one["accepted"] == len(AMOUNTS)
    assert [item["index"] for item in one_by_one["rejected"]] == [len(AMOUNTS)]
    expected = [(f"r-{n}", Decimal(a), Decimal(a)) for n, a in enumerate(AMOUNTS)]
    total = sum(Decimal(amount) for amount in AMOUNTS)
    assert await _stored(monitoring, partner_id) == [*expected, total]
    assert await _stored(monitoring, other) == [*expected, total]
