"""The vendor's daily rated usage reconciliation export (CSV), as usage records.

Partner Center's new-commerce daily rated usage file has one row per customer, subscription,
meter, resource and day, with the customer named by its tenant (``CustomerId``) and the cost
in the billing currency (``BillingPreTaxTotal``, ``BillingCurrency``). A row has no id of its
own, so the record id is a digest of the whole row: the same row imported twice (a file
re-downloaded, an import resumed) is a duplicate, and any difference makes a new record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

REQUIRED_COLUMNS = (
    "CustomerId",
    "SubscriptionId",
    "UsageDate",
    "MeterCategory",
    "Quantity",
    "BillingPreTaxTotal",
    "BillingCurrency",
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
)


class RowError(ValueError):
    """A row that cannot be read as usage; its message says why."""


def missing_columns(header: Sequence[str] | None) -> list[str]:
    return [name for name in REQUIRED_COLUMNS if name not in (header or [])]


def usage_date(text: str) -> datetime:
    """The UTC midnight of a row's usage date, written as ISO or as the US-style export does."""
    value = text.strip()
    for form in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, form)  # noqa: DTZ007 - a date; made UTC below
        except ValueError:
            continue
        return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RowError(f"UsageDate {text!r} is not a date") from exc
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def _resource_type(row: dict[str, str]) -> str:
    """The most specific name of what was used: the VM size when the row says it, else the
    resource's provider type, else the meter's sub-category."""
    try:
        info = json.loads(row.get("AdditionalInfo") or "{}")
    except ValueError:
        info = {}
    if isinstance(info, dict):
        for key in ("ServiceType", "VMSize", "vmSize"):
            if isinstance(info.get(key), str) and info[key]:
                return str(info[key])
    uri = row.get("ResourceURI") or ""
    parts = [part for part in uri.split("/") if part]
    if "providers" in parts:
        at = parts.index("providers")
        if len(parts) > at + 2:
            return f"{parts[at + 1]}/{parts[at + 2]}"
    return row.get("MeterSubCategory") or row.get("ConsumedService") or row["MeterCategory"]


def record_from_row(row: dict[str, str]) -> dict[str, Any]:
    """The API record of one export row (checked by the API like any other record)."""
    start = usage_date(row["UsageDate"])
    if start.date() == date.max:
        # Its usage would end the next day, which datetime cannot hold: no record to send.
        raise RowError(f"UsageDate {row['UsageDate']!r} is out of range")
    digest = hashlib.sha256(
        json.dumps(row, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return {
        "record_id": f"recon:{digest[:40]}",
        "vendor_tenant_id": row["CustomerId"].strip(),
        "subscription_id": (row.get("SubscriptionId") or row.get("EntitlementId") or "").strip(),
        "meter": row.get("MeterName") or row.get("MeterId") or row["MeterCategory"],
        "meter_category": row["MeterCategory"],
        "resource_type": _resource_type(row),
        "region": row.get("ResourceLocation") or row.get("MeterRegion") or "global",
        "quantity": row["Quantity"].strip(),
        "unit": row.get("Unit") or row.get("UnitType") or "unit",
        "cost": row["BillingPreTaxTotal"].strip(),
        "currency": row["BillingCurrency"].strip().upper(),
        "usage_start": start.isoformat(),
        "usage_end": (start + timedelta(days=1)).isoformat(),
    }
