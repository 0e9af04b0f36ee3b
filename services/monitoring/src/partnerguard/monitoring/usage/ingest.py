"""Ingestion: a batch of usage records in, each accepted, a duplicate, or rejected with why.

Records are checked one by one, so one bad record never costs the good ones beside it; the
good ones are stored and aggregated by one statement in the caller's transaction. Both entry
paths (HTTP batches and the USAGE stream) come through here.
"""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import FieldProblem, Unprocessable
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.settings import load_config
from partnerguard.monitoring.models import FootprintKind
from partnerguard.monitoring.usage.classify import heavy_compute_matcher
from partnerguard.monitoring.usage.footprints import KnownFootprints
from partnerguard.monitoring.usage.repository import (
    Columns,
    record_footprints,
    settle_customers,
    store_batch,
)
from partnerguard.monitoring.usage.schemas import (
    BATCH,
    RECORD,
    IngestSummary,
    RejectedRecord,
    UsageRecordIn,
)

log = structlog.get_logger()

# numeric(20, 8) holds 12 digits before the point; more would fail the whole statement.
MAX_INTEGER_DIGITS = 12
# Clocks differ: usage may start a little "in the future" of ours.
CLOCK_SKEW = timedelta(minutes=5)
# A record longer than this is not metered usage (the vendor rates per hour or per day).
MAX_SPAN = timedelta(days=31)


def parse_batch(body: bytes, max_records: int) -> list[Any]:
    """The records of a body ``{"records": [...]}``, unchecked; a body that is not such a batch
    is refused whole (422), since nothing in it can be told apart from the rest."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"the body is not JSON: {exc}") from exc
    if (
        not isinstance(data, dict)
        or set(data) != {"records"}
        or not isinstance(data["records"], list)
    ):
        raise Unprocessable('the body must be an object {"records": [...]} and nothing else')
    records: list[Any] = data["records"]
    if not records:
        raise Unprocessable("the batch has no records")
    if len(records) > max_records:
        raise Unprocessable(f"a batch holds at most {max_records} records, not {len(records)}")
    return records


def _problem(loc: str, msg: str, kind: str = "value_error") -> FieldProblem:
    return FieldProblem(loc=[loc], msg=msg, type=kind)


def _amount_problems(record: UsageRecordIn) -> list[FieldProblem]:
    problems = []
    for name in ("quantity", "cost"):
        value: Decimal = getattr(record, name)
        if value.is_signed():
            problems.append(_problem(name, f"{name} must not be negative"))
        elif value.adjusted() >= MAX_INTEGER_DIGITS:
            problems.append(
                _problem(name, f"{name} has more than {MAX_INTEGER_DIGITS} digits before the point")
            )
    return problems


def _time_problems(record: UsageRecordIn, latest: datetime) -> list[FieldProblem]:
    if record.usage_end < record.usage_start:
        return [_problem("usage_end", "usage_end is before usage_start")]
    if record.usage_end - record.usage_start > MAX_SPAN:
        return [_problem("usage_end", "a record covers at most 31 days")]
    if record.usage_start > latest:
        return [_problem("usage_start", "usage_start is in the future")]
    return []


def _problems(record: UsageRecordIn, latest: datetime) -> list[FieldProblem]:
    problems = _amount_problems(record) + _time_problems(record, latest)
    if (record.customer_id is None) == (record.vendor_tenant_id is None):
        problems.append(
            _problem("customer_id", "give exactly one of customer_id and vendor_tenant_id")
        )
    return problems


@dataclass
class Checked:
    """A batch after checking: the good records (with their positions), the refused ones, and
    how many repeated an id earlier in the batch."""

    records: list[UsageRecordIn] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)
    duplicates: int = 0

    def keep(self, position: int, record: UsageRecordIn, latest: datetime, seen: set[str]) -> None:
        """Keep ``record`` unless a rule beyond the schema refuses it (``latest``: the latest
        plausible usage start). The common, clean record takes one cheap test."""
        if (
            record.cost.is_signed()
            or record.quantity.is_signed()
            or record.cost.adjusted() >= MAX_INTEGER_DIGITS
            or record.quantity.adjusted() >= MAX_INTEGER_DIGITS
            or not record.usage_start <= record.usage_end <= record.usage_start + MAX_SPAN
            or record.usage_start > latest
            or (record.customer_id is None) == (record.vendor_tenant_id is None)
        ):
            self.rejected.append(
                RejectedRecord(
                    index=position, record_id=record.record_id, errors=_problems(record, latest)
                )
            )
        elif record.record_id in seen:
            self.duplicates += 1
        else:
            seen.add(record.record_id)
            self.records.append(record)
            self.positions.append(position)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while a batch's records are built: they hold no cycles,
    yet the tens of thousands of new objects would trigger full collections of the whole
    heap mid-batch (which more than doubled the time of validating one)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_batch(body: bytes, max_records: int, now: datetime) -> Checked:
    """Check a body ``{"records": [...]}`` record by record.

    A batch whose records all pass the schema is validated in one go (the common case, and
    several times faster); otherwise each record is validated on its own, so that each bad
    one is refused with its reasons and the rest kept.
    """
    try:
        with _no_cycle_collection():
            records = BATCH.validate_json(body)["records"]
    except ValidationError:
        return check_records(parse_batch(body, max_records), now)
    if not records:
        raise Unprocessable("the batch has no records")
    if len(records) > max_records:
        raise Unprocessable(f"a batch holds at most {max_records} records, not {len(records)}")
    checked = Checked()
    seen: set[str] = set()
    latest = now + CLOCK_SKEW
    for position, record in enumerate(records):
        checked.keep(position, record, latest, seen)
    return checked


def check_records(raw: list[Any], now: datetime) -> Checked:
    """Validate each record on its own; a record id repeated in the batch is a duplicate."""
    checked = Checked()
    seen: set[str] = set()
    latest = now + CLOCK_SKEW
    for position, item in enumerate(raw):
        try:
            record = RECORD.validate_python(item)
        except ValidationError as exc:
            checked.rejected.append(
                RejectedRecord(
                    index=position,
                    record_id=_raw_id(item),
                    errors=[
                        FieldProblem(
                            # A record that is not an object at all: the whole record.
                            loc=[
                                part if isinstance(part, int) else str(part) for part in err["loc"]
                            ]
                            or ["record"],
                            msg=err["msg"],
                            type=err["type"],
                        )
                        for err in exc.errors(include_url=False)
                    ],
                )
            )
            continue
        checked.keep(position, record, latest, seen)
    return checked


def _raw_id(item: Any) -> str | None:
    value = item.get("record_id") if isinstance(item, dict) else None
    return value[:200] if isinstance(value, str) else None


async def ingest(
    session: AsyncSession, partner_id: uuid.UUID, checked: Checked, known: KnownFootprints
) -> IngestSummary:
    """Resolve the customers of a checked batch and store it in the caller's transaction."""
    rejected = checked.rejected
    customers = CustomerRepository(session)

    # Customers named by the vendor's tenant id become ours; an unknown tenant is refused.
    tenants = {r.vendor_tenant_id for r in checked.records if r.vendor_tenant_id is not None}
    by_tenant = await customers.customers_of_tenants(partner_id, tenants) if tenants else {}
    resolved: list[tuple[int, UsageRecordIn, uuid.UUID]] = []
    for position, record in zip(checked.positions, checked.records, strict=True):
        customer_id = record.customer_id
        if customer_id is None:
            assert record.vendor_tenant_id is not None
            customer_id = by_tenant.get(record.vendor_tenant_id)
            if customer_id is None:
                rejected.append(
                    RejectedRecord(
                        index=position,
                        record_id=record.record_id,
                        errors=[
                            _problem(
                                "vendor_tenant_id", "no customer of this partner has this tenant id"
                            )
                        ],
                    )
                )
                continue
        resolved.append((position, record, customer_id))

    currencies = await _currencies(session, partner_id, resolved)
    config = await load_config(session, partner_id)
    is_heavy = heavy_compute_matcher(config.crypto_mining.heavy_patterns)
    kept: list[tuple[UsageRecordIn, uuid.UUID]] = []
    for position, record, customer_id in resolved:
        if record.currency == currencies[customer_id]:
            kept.append((record, customer_id))
            continue
        rejected.append(
            RejectedRecord(
                index=position,
                record_id=record.record_id,
                errors=[
                    _problem(
                        "currency",
                        f"the customer's usage is in {currencies[customer_id]}, "
                        f"not {record.currency}",
                    )
                ],
            )
        )
    # Inserted in id order: two batches sharing ids (a feed re-sending) then wait for each
    # other at their first shared id, never each for a row the other took first (a deadlock).
    kept.sort(key=lambda pair: pair[0].record_id)
    records = [record for record, _ in kept]
    columns = Columns(
        record_id=[r.record_id for r in records],
        customer_id=[customer_id for _, customer_id in kept],
        subscription_id=[r.subscription_id for r in records],
        meter=[r.meter for r in records],
        meter_category=[r.meter_category for r in records],
        resource_type=[r.resource_type for r in records],
        region=[r.region for r in records],
        quantity=[r.quantity for r in records],
        unit=[r.unit for r in records],
        cost=[r.cost for r in records],
        currency=[r.currency for r in records],
        usage_start=[r.usage_start for r in records],
        usage_end=[r.usage_end for r in records],
        heavy_compute=[is_heavy(r.resource_type, r.meter) for r in records],
    )

    # Every good record counts, duplicates too: a duplicate's footprints were stored with it.
    # Before the records: the aggregate rows the store locks are then held only until commit.
    sightings = _sightings(columns, known.unknown(partner_id, _footprint_keys(columns)))
    await record_footprints(session, partner_id, sightings)
    known.remember_after_commit(session, partner_id, list(sightings))
    accepted = await store_batch(session, partner_id, columns)
    rejected.sort(key=lambda item: item.index)
    summary = IngestSummary(
        accepted=accepted,
        duplicates=checked.duplicates + len(columns) - accepted,
        rejected=rejected,
    )
    log.info(
        "usage.ingested",
        accepted=summary.accepted,
        duplicates=summary.duplicates,
        rejected=len(summary.rejected),
    )
    return summary


FootprintKey = tuple[uuid.UUID, str, str]


def _footprint_keys(columns: Columns) -> set[FootprintKey]:
    """Each customer's resource types and regions in the batch."""
    resource_types = set(zip(columns.customer_id, columns.resource_type, strict=True))
    regions = set(zip(columns.customer_id, columns.region, strict=True))
    return {(c, FootprintKind.RESOURCE_TYPE.value, v) for c, v in resource_types} | {
        (c, FootprintKind.REGION.value, v) for c, v in regions
    }


def _sightings(columns: Columns, keys: set[FootprintKey]) -> dict[FootprintKey, datetime]:
    """The earliest use in the batch of each of ``keys`` (usually few: most are known)."""
    first: dict[FootprintKey, datetime] = {}
    if not keys:
        return first
    for customer_id, resource_type, region, start in zip(
        columns.customer_id, columns.resource_type, columns.region, columns.usage_start, strict=True
    ):
        for key in (
            (customer_id, FootprintKind.RESOURCE_TYPE.value, resource_type),
            (customer_id, FootprintKind.REGION.value, region),
        ):
            if key in keys:
                at = first.get(key)
                if at is None or start < at:
                    first[key] = start
    return first


async def _currencies(
    session: AsyncSession,
    partner_id: uuid.UUID,
    resolved: list[tuple[int, UsageRecordIn, uuid.UUID]],
) -> dict[uuid.UUID, str]:
    """Each customer's usage currency: the one it has, else that of its first record here.

    Customers new to monitoring, or with usage earlier than known, are registered first.
    """
    first: dict[uuid.UUID, tuple[str, datetime]] = {}
    for _, record, customer_id in resolved:
        known = first.get(customer_id)
        if known is None or record.usage_start < known[1]:
            # A new customer's currency is its first record's here; the others must match.
            first[customer_id] = (known[0] if known else record.currency, record.usage_start)
    if not first:
        return {}
    usage = await CustomerRepository(session).usage_of(partner_id, list(first))
    currencies = {cid: currency for cid, (currency, _) in usage.items() if currency is not None}
    unsettled = {}
    for customer_id, (currency, earliest) in first.items():
        known_currency, known_first = usage.get(customer_id, (None, None))
        if known_currency is None or known_first is None or earliest < known_first:
            unsettled[customer_id] = (currency, earliest)
    if unsettled:
        currencies.update(await settle_customers(session, partner_id, unsettled))
    return currencies
