"""The USAGE stream: bulk feeds publish batches on ``usage.<partner_id>.records``.

A message is a batch as POST /usage takes it (``{"records": [...]}``). Its partner is the
subject's: NATS permissions decide who may publish there. Refused records are kept in
``usage_rejections`` (GET /v1/monitoring/usage/rejections); a message that is not a batch at
all is dead-lettered with the reason. Redelivery is harmless: stored records are duplicates
the second time, and a refusal is kept once per message and position.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from nats.aio.msg import Msg

from partnerguard.common.bus.consumer import ConsumerSpec, PoisonMessage
from partnerguard.common.db.engine import Database
from partnerguard.common.errors import Unprocessable
from partnerguard.common.runtime import Consumer
from partnerguard.monitoring.settings import MonitoringSettings
from partnerguard.monitoring.usage.footprints import KnownFootprints
from partnerguard.monitoring.usage.ingest import ingest
from partnerguard.monitoring.usage.reading import read_batch
from partnerguard.monitoring.usage.repository import record_rejections

SUBJECTS = ["usage.*.records"]


def usage_subject(partner_id: uuid.UUID) -> str:
    return f"usage.{partner_id}.records"


def partner_of(subject: str) -> uuid.UUID:
    domain, partner, entity = (subject.split(".") + ["", "", ""])[:3]
    if domain != "usage" or entity != "records" or subject.count(".") != 2:
        raise PoisonMessage(f"{subject} is not a usage subject (usage.<partner_id>.records)")
    try:
        return uuid.UUID(partner)
    except ValueError as exc:
        raise PoisonMessage(f"{partner!r} in {subject} is not a partner id") from exc


class UsageBatches:
    """Handles USAGE messages (a :class:`MessageHandler`)."""

    def __init__(self, settings: MonitoringSettings) -> None:
        self.max_records = settings.usage_batch_max
        self.known = KnownFootprints()

    async def unwanted(self, db: Database, messages: list[Msg]) -> list[Msg]:
        return []  # every usage batch is handled

    async def handle(self, db: Database, durable: str, msg: Msg) -> str:
        partner_id = partner_of(msg.subject)
        now = datetime.now(UTC)
        try:
            checked = read_batch(msg.data, self.max_records, now)
        except Unprocessable as exc:
            raise PoisonMessage(exc.detail or "not a usage batch") from exc
        headers = msg.headers or {}
        batch = (
            headers.get("Nats-Msg-Id") or f"{msg.metadata.stream}:{msg.metadata.sequence.stream}"
        )
        async with db.tenant_session(partner_id) as session:
            summary = await ingest(session, partner_id, checked, self.known)
            await record_rejections(session, partner_id, batch, summary.rejected)
        return "handled"


def usage_consumer(settings: MonitoringSettings) -> Consumer:
    """``monitoring-usage``: bulk usage feeds."""
    return Consumer(
        ConsumerSpec(
            durable="monitoring-usage",
            stream="USAGE",
            subjects=SUBJECTS,
            batch=settings.usage_consumer_batch,
            # A 10,000-record batch may take a while on a busy database.
            ack_wait=120.0,
        ),
        UsageBatches(settings),
    )
