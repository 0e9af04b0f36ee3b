"""Raising an alert: the one way every detector, rule and notice does it.

An alert is keyed by what it found (``dedup_key``, for example the customer and day of a spend
anomaly): re-evaluating the same evidence raises nothing new, and ``monitoring.alert.raised``
leaves once per finding, in the transaction that stored it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.events.types.monitoring import (
    AlertKind,
    AlertRaised,
    EvidenceValue,
    Severity,
)
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import emit
from partnerguard.monitoring.alerts.repository import AlertRepository
from partnerguard.monitoring.models import Alert

log = structlog.get_logger()


@dataclass(frozen=True)
class Finding:
    """What a detector found, before it is an alert."""

    kind: AlertKind
    severity: Severity
    summary: str
    dedup_key: str
    customer_id: uuid.UUID | None = None
    rule: str | None = None
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    subscription_ids: Sequence[uuid.UUID] = ()


async def raise_alert(
    session: AsyncSession, partner_id: uuid.UUID, finding: Finding, now: datetime
) -> Alert | None:
    """Store ``finding`` as an open alert and announce it; None when it was raised before."""
    alert = await AlertRepository(session).insert_new(
        {
            "id": new_id(),
            "partner_id": partner_id,
            "kind": finding.kind.value,
            "severity": finding.severity.value,
            "rule": finding.rule,
            "customer_id": finding.customer_id,
            "subscription_ids": list(finding.subscription_ids),
            "summary": finding.summary[:500],
            "evidence": dict(finding.evidence),
            "dedup_key": finding.dedup_key,
            "status": "open",
            "raised_at": now,
        }
    )
    if alert is None:
        return None
    await emit(
        session,
        AlertRaised(
            alert_id=alert.id,
            kind=finding.kind,
            severity=finding.severity,
            customer_id=finding.customer_id,
            subscription_ids=tuple(finding.subscription_ids),
            rule=finding.rule,
            summary=finding.summary[:500],
            evidence=dict(finding.evidence),
            raised_at=now,
        ),
        partner_id=partner_id,
        subject=alert.id,
        customer_id=finding.customer_id,
        aggregate_key=f"alert:{alert.id}",
    )
    log.info(
        "alert.raised",
        alert_id=str(alert.id),
        kind=finding.kind.value,
        rule=finding.rule,
        customer_id=str(finding.customer_id) if finding.customer_id else None,
    )
    return alert
