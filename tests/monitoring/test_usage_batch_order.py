"""A batch's order decides, not its record ids' (records are stored in id order): a new
customer's currency, which of a repeated id counts, and the order refusals are listed in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.monitoring import RunningMonitoring, usage_record

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _batch(records: list[dict[str, Any]], one_by_one: bool) -> list[dict[str, Any]]:
    """``records``, plus a bad record after them when the batch is to be read one by one."""
    if not one_by_one:
        return records
    return [*records, {**records[0], "record_id": "z-bad", "cost": "-1"}]


async def _scalars(monitoring: RunningMonitoring, query: str, **params: Any) -> list[Any]:
    async with monitoring.db.sweep_session() as session:
        return list((await session.execute(text(query), params)).scalars())


@pytest.mark.parametrize("one_by_one", [False, True], ids=["clean batch", "with a bad record"])
async def test_a_new_customers_currency_is_its_first_records_in_the_batch(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, one_by_one: bool
) -> None:
    customer = uuid.uuid4()
    records = [
        usage_record(customer, T0, "1", currency="USD", record_id="r-c"),
        usage_record(customer, T0, "2", currency="EUR", record_id="r-b"),
        usage_record(customer, T0, "3", currency="EUR", record_id="r-a"),
    ]

    summary = await monitoring.ingest(partner_id, _batch(records, one_by_one))

    assert summary["accepted"] == 1
    refused = [item for item in summary["rejected"] if item["record_id"] != "z-bad"]
    assert [item["index"] for item in refused] == [1, 2]
    assert [item["record_id"] for item in refused] == ["r-b", "r-a"]
    assert all("usage is in USD" in item["errors"][0]["msg"] for item in refused)
    assert await _scalars(monitoring, "SELECT currency FROM customers") == ["USD"]
    assert await _scalars(monitoring, "SELECT record_id FROM usage_records") == ["r-c"]


@pytest.mark.parametrize("one_by_one", [False, True], ids=["clean batch", "with a bad record"])
async def test_of_records_sharing_an_id_the_first_in_the_batch_counts(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, one_by_one: bool
) -> None:
    customer = uuid.uuid4()
    records = [
        usage_record(customer, T0, "5", record_id="r-b"),
        usage_record(customer, T0, "1", record_id="r-a"),
        usage_record(customer, T0, "9", record_id="r-b"),
    ]

    summary = await monitoring.ingest(partner_id, _batch(records, one_by_one))

    assert (summary["accepted"], summary["duplicates"]) == (2, 1)
    costs = await _scalars(monitoring, "SELECT cost FROM usage_records ORDER BY record_id")
    assert costs == [Decimal("1"), Decimal("5")]
