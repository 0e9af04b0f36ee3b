"""Ingestion: a read batch's customers resolved, then its good records stored and aggregated by
one statement in the caller's transaction. Both entry paths (HTTP batches and the USAGE stream)
come through here; reading is :mod:`partnerguard.monitoring.usage.reading`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.settings import load_config
from partnerguard.monitoring.usage.classify import heavy_compute
from partnerguard.monitoring.usage.footprints import KnownFootprints
from partnerguard.monitoring.usage.reading import REGION, RESOURCE_TYPE, Checked, Records, refuse
from partnerguard.monitoring.usage.repository import (
    Columns,
    record_footprints,
    settle_customers,
    store_batch,
)
from partnerguard.monitoring.usage.schemas import (
    IngestSummary,
    RejectedRecord,
)

log = structlog.get_logger()


async def ingest(
    session: AsyncSession, partner_id: uuid.UUID, checked: Checked, known: KnownFootprints
) -> IngestSummary:
    """Resolve the customers of a checked batch and store it in the caller's transaction."""
    rejected = checked.rejected
    records = await _with_customers(session, partner_id, checked.records, rejected)
    # Every customer id is set now (an unknown tenant's records are gone).
    customer_ids = cast(list[uuid.UUID], records.customer_id)
    # Customers go by their ``uuid.int`` in what sees every record: hashing a UUID runs Python.
    keys = [customer_id.int for customer_id in customer_ids]
    customers = dict(zip(keys, customer_ids, strict=True))

    currencies = await _currencies(session, partner_id, customers, keys, records)
    expected = list(map(currencies.__getitem__, keys))
    if expected != records.currency:
        matching = []
        for row, (wanted, currency) in enumerate(zip(expected, records.currency, strict=True)):
            if currency == wanted:
                matching.append(row)
            else:
                refuse(
                    rejected,
                    records,
                    row,
                    "currency",
                    f"the customer's usage is in {wanted}, not {currency}",
                )
        records = records.take(matching)
        keys = list(map(keys.__getitem__, matching))
        customer_ids = list(map(customer_ids.__getitem__, matching))
    config = await load_config(session, partner_id)
    columns = _to_store(records, customer_ids, config.crypto_mining.heavy_patterns)

    # Every good record counts, duplicates too: a duplicate's footprints were stored with it.
    # Before the records: the aggregate rows the store locks are then held only until commit.
    unknown = known.unknown(partner_id, _footprint_keys(customers, keys, records))
    sightings = _sightings(keys, records, unknown)
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


async def _with_customers(
    session: AsyncSession, partner_id: uuid.UUID, records: Records, rejected: list[RejectedRecord]
) -> Records:
    """The records with their customer ids: customers named by the vendor's tenant id become
    ours, and a record of a tenant no customer has is refused."""
    by_tenant_rows = [
        row for row, customer_id in enumerate(records.customer_id) if customer_id is None
    ]
    if not by_tenant_rows:
        return records
    tenant_ids = records.vendor_tenant_id
    tenants = {tenant_ids[row] for row in by_tenant_rows}
    by_tenant = await CustomerRepository(session).customers_of_tenants(
        partner_id,
        cast(set[uuid.UUID], tenants),  # exactly one of the two ids: checked on reading
    )
    customer_ids = list(records.customer_id)
    unknown: set[int] = set()
    for row in by_tenant_rows:
        customer_id = by_tenant.get(cast(uuid.UUID, tenant_ids[row]))
        if customer_id is None:
            unknown.add(row)
            refuse(
                rejected,
                records,
                row,
                "vendor_tenant_id",
                "no customer of this partner has this tenant id",
            )
        customer_ids[row] = customer_id
    records = replace(records, customer_id=customer_ids)
    if unknown:
        records = records.take([row for row in range(len(records)) if row not in unknown])
    return records


def _to_store(
    records: Records, customer_ids: list[uuid.UUID], heavy_patterns: tuple[str, ...]
) -> Columns:
    """The records as the statement binds them. They are in id order: two batches sharing ids
    (a feed re-sending) then wait for each other at their first shared id, never each for a row
    the other took first (a deadlock)."""
    return Columns(
        record_id=records.record_id,
        customer_id=customer_ids,
        subscription_id=records.subscription_id,
        meter=records.meter,
        meter_category=records.meter_category,
        resource_type=records.resource_type,
        region=records.region,
        quantity=records.quantity,
        unit=records.unit,
        cost=records.cost,
        currency=records.currency,
        usage_start=records.usage_start,
        usage_end=records.usage_end,
        heavy_compute=heavy_compute(heavy_patterns, records.resource_type, records.meter),
    )


FootprintKey = tuple[uuid.UUID, str, str]


def _footprint_keys(
    customers: dict[int, uuid.UUID], keys: list[int], records: Records
) -> set[FootprintKey]:
    """Each customer's resource types and regions in the batch."""
    resource_types = set(zip(keys, records.resource_type, strict=True))
    regions = set(zip(keys, records.region, strict=True))
    return {(customers[key], RESOURCE_TYPE, value) for key, value in resource_types} | {
        (customers[key], REGION, value) for key, value in regions
    }


def _sightings(
    keys: list[int], records: Records, unknown: set[FootprintKey]
) -> dict[FootprintKey, datetime]:
    """The earliest use in the batch of each of ``unknown`` (usually none: most are known)."""
    if not unknown:
        return {}
    wanted = {
        (customer_id.int, kind, value): (customer_id, kind, value)
        for customer_id, kind, value in unknown
    }
    first: dict[tuple[int, str, str], datetime] = {}
    for key, resource_type, region, start in zip(
        keys, records.resource_type, records.region, records.usage_start, strict=True
    ):
        for sighting in ((key, RESOURCE_TYPE, resource_type), (key, REGION, region)):
            if sighting in wanted:
                at = first.get(sighting)
                if at is None or start < at:
                    first[sighting] = start
    return {wanted[sighting]: at for sighting, at in first.items()}


async def _currencies(
    session: AsyncSession,
    partner_id: uuid.UUID,
    customers: dict[int, uuid.UUID],
    keys: list[int],
    records: Records,
) -> dict[int, str]:
    """Each customer's usage currency (by ``uuid.int``): the one it has, else that of its first
    record in the batch. Customers new to monitoring, or with usage earlier than known, are
    registered first."""
    if not keys:
        return {}
    earliest: dict[int, datetime] = {}
    for key, start in zip(keys, records.usage_start, strict=True):
        at = earliest.get(key)
        if at is None or start < at:
            earliest[key] = start
    usage = await CustomerRepository(session).usage_of(partner_id, list(customers.values()))
    known = {customer_id.int: row for customer_id, row in usage.items()}
    currencies = {key: currency for key, (currency, _) in known.items() if currency is not None}
    unsettled = []
    for key, start in earliest.items():
        known_currency, known_first = known.get(key, (None, None))
        if known_currency is None or known_first is None or start < known_first:
            unsettled.append(key)
    if unsettled:
        first = _first_currencies(keys, records, set(unsettled))
        settled = await settle_customers(
            session,
            partner_id,
            {customers[key]: (first[key], earliest[key]) for key in unsettled},
        )
        currencies.update((customer_id.int, currency) for customer_id, currency in settled.items())
    return currencies


def _first_currencies(keys: list[int], records: Records, wanted: set[int]) -> dict[int, str]:
    """The currency of each wanted customer's first record in the batch (records are in id
    order, so the first is the one of least position): the one its usage will be in, if new."""
    first: dict[int, tuple[int, str]] = {}
    for key, position, currency in zip(keys, records.position, records.currency, strict=True):
        if key in wanted:
            seen = first.get(key)
            if seen is None or position < seen[0]:
                first[key] = (position, currency)
    return {key: currency for key, (_, currency) in first.items()}
