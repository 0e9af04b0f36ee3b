"""Builders for activity-log tests: entries as the API takes them, sending them, what they raised."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from partnerguard.common.db.engine import Database
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.models import ActivityEntry, Alert, DetectorConfig
from tests.support.monitoring import RunningMonitoring


def activity_entry(
    customer_id: uuid.UUID | None,
    at: datetime,
    *,
    entry_id: str | None = None,
    actor: str = "alice@contoso.example",
    operation: str = "Sign-in activity",
    country: str | None = "FR",
    result: str = "success",
    **fields: Any,
) -> dict[str, Any]:
    """One valid activity-log entry as the API takes it; override or add any field."""
    entry: dict[str, Any] = {
        "entry_id": entry_id or str(uuid.uuid4()),
        "actor": actor,
        "operation": operation,
        "result": result,
        "occurred_at": at.isoformat(),
    }
    if customer_id is not None:
        entry["customer_id"] = str(customer_id)
    if country is not None:
        entry["country"] = country
    entry.update(fields)
    return entry


async def post_activity(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, entries: Sequence[Any]
) -> dict[str, Any]:
    """Send ``entries`` in one batch; the answer (which must be a 200)."""
    response = await monitoring.http.post(
        "/v1/monitoring/activity-logs",
        json={"entries": list(entries)},
        headers=monitoring.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def alerts_of(db: Database, partner_id: uuid.UUID, rule: str | None = None) -> list[Alert]:
    """The partner's alerts (of one rule), oldest first."""
    statement = select(Alert).where(Alert.partner_id == partner_id)
    if rule is not None:
        statement = statement.where(Alert.rule == rule)
    async with db.sweep_session() as session:
        return list(
            (await session.execute(statement.order_by(Alert.raised_at, Alert.id))).scalars()
        )


async def stored_entries(db: Database, partner_id: uuid.UUID) -> int:
    async with db.sweep_session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ActivityEntry)
            .where(ActivityEntry.partner_id == partner_id)
        )
        return int(count or 0)


async def register_customer(
    db: Database, partner_id: uuid.UUID, customer_id: uuid.UUID, tenant_id: uuid.UUID
) -> None:
    """Put a customer with its vendor tenant in the registry, as onboarding's approval does."""
    async with db.tenant_session(partner_id) as session:
        await CustomerRepository(session).record_approval(
            partner_id,
            customer_id,
            risk_tier="low",
            vendor_tenant_id=tenant_id,
            approved_at=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        )


async def save_detection_config(
    db: Database, partner_id: uuid.UUID, config: DetectionConfig
) -> None:
    """Save the partner's detection settings, as ``PUT /v1/monitoring/detectors`` would."""
    async with db.tenant_session(partner_id) as session:
        session.add(
            DetectorConfig(partner_id=partner_id, version=1, config=config.model_dump(mode="json"))
        )
