"""Events from NATS to partners' endpoints: fan-out per partner and filter, signed delivery,
retries on a driven clock, disabling, and refusal of internal addresses at delivery time."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import EventConsumer
from partnerguard.common.db.engine import Database
from partnerguard.common.events import CloudEvent, EventData
from partnerguard.common.events.types.billing import CustomerDelinquent, InvoiceIssued
from partnerguard.common.events.types.enforcement import SubscriptionReinstated
from partnerguard.common.tables import InboxEvent, OutboxEvent
from partnerguard.gateway.models import WebhookDelivery
from partnerguard.gateway.roles import Role
from partnerguard.gateway.settings import GatewaySettings
from partnerguard.gateway.webhooks.delivery import deliver_due
from partnerguard.gateway.webhooks.handlers import webhook_consumers
from partnerguard.gateway.webhooks.schedule import RETRY_DELAYS
from partnerguard.gateway.webhooks.transport import Timeouts, WebhookSender
from tests.support.gateway import RunningGateway, bearer, new_client, running_gateway, token_for
from tests.support.webhook_receiver import Answer, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gw_settings(gw_settings: GatewaySettings) -> GatewaySettings:
    """The local receiver is on loopback over http: allowed here, as in development."""
    return gw_settings.model_copy(
        update={"webhooks_allow_private_urls": True, "webhooks_allow_http": True}
    )


@dataclasses.dataclass
class Partner:
    id: uuid.UUID
    headers: dict[str, str]


async def new_partner(gw: RunningGateway) -> Partner:
    creds = await new_client(gw.db, Role.USER_MANAGEMENT_ADMIN)
    return Partner(creds.partner_id, bearer(await token_for(gw.http, creds)))


async def subscribe(
    gw: RunningGateway, partner: Partner, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await gw.http.post(
        "/v1/webhooks",
        json={"url": url, "event_types": event_types or ["*"]},
        headers=partner.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def delinquent() -> CustomerDelinquent:
    return CustomerDelinquent.model_validate(
        {
            "customer_id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
            "amount_overdue": {"amount": 12_345, "currency": "EUR"},
            "days_overdue": 45,
            "oldest_invoice_id": uuid.uuid4(),
            "since": date(2026, 10, 1),
        }
    )


def invoice_issued() -> InvoiceIssued:
    return InvoiceIssued.model_validate(
        {
            "invoice_id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
            "customer_id": uuid.uuid4(),
            "number": "INV-1",
            "total": {"amount": 100, "currency": "EUR"},
            "issued_on": date(2026, 11, 1),
            "due_on": date(2026, 11, 30),
        }
    )


def reinstated() -> SubscriptionReinstated:
    return SubscriptionReinstated(
        customer_id=uuid.uuid4(),
        subscription_id=uuid.uuid4(),
        action_id=uuid.uuid4(),
        reinstated_at=datetime.now(UTC),
    )


class Fanout:
    """The gateway's own fan-out handlers on test-private durables (one per stream, filtered
    to this test's partners), fed from real JetStream messages."""

    def __init__(self, bus: EventBus, db: Database, partners: list[Partner]) -> None:
        self.bus = bus
        self.partners = partners
        suffix = uuid.uuid4().hex[:8]
        self.consumers = {}
        for consumer in webhook_consumers():
            domain = consumer.spec.stream.lower()
            spec = dataclasses.replace(
                consumer.spec,
                durable=f"test-{consumer.spec.durable}-{suffix}",
                subjects=[f"{domain}.{p.id}.>" for p in partners],
            )
            self.consumers[spec.stream] = EventConsumer(bus, db, spec, consumer.handlers)
        self._used: set[str] = set()

    async def publish(
        self, data: EventData, partner: Partner, envelope: CloudEvent | None = None
    ) -> CloudEvent:
        definition = data.definition()
        envelope = envelope or CloudEvent(
            source="urn:partnerguard:test",
            type=definition.type,
            data=data.model_dump(mode="json"),
            partnerid=partner.id,
        )
        await self.bus.publish(
            definition.subject(partner.id),
            envelope.model_dump_json(exclude_none=True).encode(),
            msg_id=uuid.uuid4().hex,  # a new message id: the broker does not drop repeats
        )
        self._used.add(definition.stream)
        return envelope

    async def drain(self) -> int:
        """Handle every message published so far; how many were handled."""
        handled = 0
        for stream in sorted(self._used):
            consumer = self.consumers[stream]
            durable = consumer.spec.durable
            await self.bus.js.add_consumer(stream, consumer.spec.config())
            sub = await self.bus.js.pull_subscribe_bind(durable=durable, stream=stream)
            try:
                while pending := (await self.bus.js.consumer_info(stream, durable)).num_pending:
                    batch = await sub.fetch(min(pending, 100), timeout=5)
                    await consumer.process_batch(batch)
                    handled += len(batch)
            finally:
                await sub.unsubscribe()
            await self.bus.nc.flush()  # acks are fire-and-forget: let the server see them
            info = await self.bus.js.consumer_info(stream, durable)
            assert info.num_ack_pending == 0, "a handler failed: see the consumer.retry log"
        return handled


@pytest.fixture
async def world(gw: RunningGateway, bus: EventBus) -> tuple[Partner, Fanout]:
    """A partner, and the fan-out of its events."""
    partner = await new_partner(gw)
    return partner, Fanout(bus, gw.db, [partner])


async def deliver(gw: RunningGateway, now: datetime | None = None, **kwargs: Any) -> int:
    return await deliver_due(gw.db, gw.gateway.keys.sealer, gw.gateway.settings, now=now, **kwargs)


async def deliveries(gw: RunningGateway, partner: Partner, webhook_id: str) -> list[dict[str, Any]]:
    response = await gw.http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=partner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def webhook(gw: RunningGateway, partner: Partner, webhook_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await gw.http.get(f"/v1/webhooks/{webhook_id}", headers=partner.headers)
    ).json()
    return body


async def test_delivery_verifies_with_a_standard_webhooks_verifier(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/a"), ["billing.customer.delinquent"])
    event = await fanout.publish(delinquent(), a)
    assert await fanout.drain() == 1
    assert await deliver(gw) == 1

    [request] = receiver.to("/a")
    payload = StandardWebhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["id"] == str(event.id)
    assert payload["type"] == "billing.customer.delinquent"
    assert payload["partnerid"] == str(a.id)
    assert payload["data"]["days_overdue"] == 45
    assert request.headers["webhook-id"] == str(event.id)
    assert request.headers["content-type"].startswith("application/cloudevents+json")

    [delivery] = await deliveries(gw, a, hook["id"])
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] == str(event.id)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["error"] is None
    assert attempt["duration_ms"] >= 0
    assert await deliver(gw) == 0  # nothing more is due


async def test_after_rotation_old_and_new_secret_verify_until_the_overlap_ends(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/a"))
    rotated = (
        await gw.http.post(
            f"/v1/webhooks/{hook['id']}/secret", json={"overlap_seconds": 3600}, headers=a.headers
        )
    ).json()
    old, new = hook["secret"], rotated["secret"]

    await fanout.publish(delinquent(), a)
    await fanout.drain()
    assert await deliver(gw) == 1
    during = receiver.to("/a")[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        StandardWebhook(secret).verify(during.body, during.headers)

    # Past the overlap only the new secret signs.
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    after_overlap = datetime.fromisoformat(rotated["previous_secret_expires_at"]) + timedelta(
        seconds=1
    )
    assert await deliver(gw, now=after_overlap) == 1
    after = receiver.to("/a")[-1]
    StandardWebhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(after.body, after.headers)


async def test_an_event_reaches_only_its_own_partners_webhooks(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver, bus: EventBus
) -> None:
    a, _ = world
    b = await new_partner(gw)
    fanout = Fanout(bus, gw.db, [a, b])
    hook_a = await subscribe(gw, a, receiver.url("/a"))
    hook_b = await subscribe(gw, b, receiver.url("/b"))
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    await deliver(gw)
    assert len(receiver.to("/a")) == 1
    assert receiver.to("/b") == []
    assert await deliveries(gw, b, hook_b["id"]) == []
    assert len(await deliveries(gw, a, hook_a["id"])) == 1
    # Nor can B read A's deliveries.
    stranger = await gw.http.get(f"/v1/webhooks/{hook_a['id']}/deliveries", headers=b.headers)
    assert stranger.status_code == 404


async def test_event_type_filters_select_what_each_webhook_receives(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    invoices = await subscribe(gw, a, receiver.url("/invoices"), ["billing.invoice.issued"])
    enforcement = await subscribe(gw, a, receiver.url("/enforcement"), ["enforcement.*"])
    await fanout.publish(delinquent(), a)
    await fanout.publish(invoice_issued(), a)
    await fanout.publish(reinstated(), a)
    assert await fanout.drain() == 3
    await deliver(gw)
    assert [d["event_type"] for d in await deliveries(gw, a, invoices["id"])] == [
        "billing.invoice.issued"
    ]
    assert [d["event_type"] for d in await deliveries(gw, a, enforcement["id"])] == [
        "enforcement.subscription.reinstated"
    ]
    assert len(receiver.to("/invoices")) == len(receiver.to("/enforcement")) == 1


async def _inbox_holds(db: Database, event: CloudEvent) -> bool:
    async with db.sweep_session() as session:
        found = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.event_id == event.id)
        )
    return bool(found)


async def test_an_event_owed_to_no_webhook_is_passed_over_without_a_unit_of_work(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    nobody = await fanout.publish(delinquent(), a)
    await subscribe(gw, a, receiver.url("/invoices"), ["billing.invoice.issued"])
    filtered_out = await fanout.publish(delinquent(), a)
    owed = await fanout.publish(invoice_issued(), a)

    assert await fanout.drain() == 3

    # Only the event some webhook selects took a transaction (and so an inbox record).
    assert [await _inbox_holds(gw.db, e) for e in (nobody, filtered_out, owed)] == [
        False,
        False,
        True,
    ]
    await deliver(gw)
    assert [json.loads(r.body)["type"] for r in receiver.to("/invoices")] == [
        "billing.invoice.issued"
    ]


async def test_a_redelivered_event_does_not_create_a_second_delivery(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/a"))
    event = await fanout.publish(delinquent(), a)
    # The same event again under a new message id (a relay re-publishing after the broker's
    # duplicate window): the broker stores it twice and the consumer sees it twice.
    await fanout.publish(delinquent(), a, envelope=event)
    assert await fanout.drain() == 2
    assert len(await deliveries(gw, a, hook["id"])) == 1
    await deliver(gw)
    assert len(receiver.to("/a")) == 1


async def test_deliveries_page_newest_first_and_go_with_their_webhook(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/a"))
    events = [await fanout.publish(delinquent(), a) for _ in range(3)]
    await fanout.drain()
    await deliver(gw)
    path = f"/v1/webhooks/{hook['id']}/deliveries"
    first = (await gw.http.get(f"{path}?limit=2", headers=a.headers)).json()
    rest = (
        await gw.http.get(f"{path}?limit=2&cursor={first['next_cursor']}", headers=a.headers)
    ).json()
    assert rest["next_cursor"] is None
    shown = [d["event_id"] for d in first["items"] + rest["items"]]
    assert sorted(shown) == sorted(str(e.id) for e in events)
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    failed_only = await gw.http.get(f"{path}?status=failed", headers=a.headers)
    assert failed_only.json()["items"] == []
    assert (await gw.http.get(f"{path}?status=lost", headers=a.headers)).status_code == 422

    assert (
        await gw.http.delete(f"/v1/webhooks/{hook['id']}", headers=a.headers)
    ).status_code == 204
    assert await delivery_count(gw.db) == 0


async def test_workers_running_at_once_send_each_delivery_once(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    await subscribe(gw, a, receiver.url("/a"))
    events = [await fanout.publish(delinquent(), a) for _ in range(12)]
    await fanout.drain()
    tried = await asyncio.gather(*(deliver(gw, limit=5) for _ in range(4)))
    tried += await asyncio.gather(*(deliver(gw, limit=5) for _ in range(4)))
    assert sum(tried) == 12
    sent = sorted(r.headers["webhook-id"] for r in receiver.to("/a"))
    assert sent == sorted(str(e.id) for e in events)


async def test_a_failing_endpoint_is_retried_with_backoff_then_disabled_with_an_event(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/down"))
    receiver.always("/down", 500)
    await fanout.publish(delinquent(), a)
    await fanout.drain()

    start = datetime.now(UTC) + timedelta(seconds=1)
    assert await deliver(gw, now=start) == 1
    at = start
    for delay in RETRY_DELAYS:
        # Not a moment early ...
        assert await deliver(gw, now=at + delay - timedelta(seconds=1)) == 0
        # ... and tried again once due.
        at += delay
        assert await deliver(gw, now=at) == 1
    assert at - start >= timedelta(hours=24)
    assert len(receiver.to("/down")) == len(RETRY_DELAYS) + 1

    [delivery] = await deliveries(gw, a, hook["id"])
    assert delivery["status"] == "failed"
    assert [t["status_code"] for t in delivery["attempts"]] == [500] * (len(RETRY_DELAYS) + 1)
    state = await webhook(gw, a, hook["id"])
    assert state["status"] == "disabled"
    assert state["disabled_reason"] == "consecutive_failures"
    assert state["consecutive_failures"] == len(RETRY_DELAYS) + 1

    disabled = await outbox_events(gw.db, "gateway.webhook.disabled")
    assert [e["data"]["reason"] for e in disabled] == ["consecutive_failures"]
    assert disabled[0]["data"]["webhook_id"] == hook["id"]
    assert disabled[0]["data"]["last_status_code"] == 500
    assert disabled[0]["partnerid"] == str(a.id)
    assert await deliver(gw, now=at + timedelta(days=2)) == 0


async def test_a_recovering_endpoint_succeeds_on_retry(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/flaky"))
    receiver.answer("/flaky", Answer(503), Answer(200))
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    start = datetime.now(UTC)
    await deliver(gw, now=start)
    assert (await webhook(gw, a, hook["id"]))["consecutive_failures"] == 1
    await deliver(gw, now=start + RETRY_DELAYS[0])
    [delivery] = await deliveries(gw, a, hook["id"])
    assert delivery["status"] == "succeeded"
    assert [t["status_code"] for t in reversed(delivery["attempts"])] == [200, 503]
    state = await webhook(gw, a, hook["id"])
    assert state["consecutive_failures"] == 0
    assert state["status"] == "enabled"


async def test_410_gone_disables_at_once_and_later_events_wait_for_enable(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/gone"))
    receiver.answer("/gone", Answer(410))
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    assert await deliver(gw) == 1
    state = await webhook(gw, a, hook["id"])
    assert state["status"] == "disabled"
    assert state["disabled_reason"] == "endpoint_gone"
    [delivery] = await deliveries(gw, a, hook["id"])
    assert delivery["status"] == "failed"
    [event] = await outbox_events(gw.db, "gateway.webhook.disabled")
    assert event["data"]["reason"] == "endpoint_gone"
    assert event["data"]["last_status_code"] == 410

    # Disabled: a new event is owed to no one and nothing is sent.
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    assert await deliver(gw, now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert len(await deliveries(gw, a, hook["id"])) == 1

    enabled = await gw.http.post(f"/v1/webhooks/{hook['id']}/enable", headers=a.headers)
    assert enabled.json()["status"] == "enabled"
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    assert await deliver(gw) == 1
    assert [r.path for r in receiver.received] == ["/gone", "/gone"]


async def test_deliveries_owed_when_disabled_by_hand_go_out_after_enable(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/a"))
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    await gw.http.post(f"/v1/webhooks/{hook['id']}/disable", headers=a.headers)
    assert [d["status"] for d in await deliveries(gw, a, hook["id"])] == ["paused"]
    assert await deliver(gw) == 0
    await gw.http.post(f"/v1/webhooks/{hook['id']}/enable", headers=a.headers)
    assert await deliver(gw) == 1
    assert [d["status"] for d in await deliveries(gw, a, hook["id"])] == ["succeeded"]


async def test_a_slow_endpoint_times_out_and_the_attempt_is_recorded(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    hook = await subscribe(gw, a, receiver.url("/slow"))
    receiver.answer("/slow", Answer(200, delay=2.0))
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    await deliver(gw, timeouts=Timeouts(connect=1.0, read=0.3, write=1.0, total=0.5))
    [delivery] = await deliveries(gw, a, hook["id"])
    assert delivery["status"] == "pending"
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert "timed out" in attempt["error"] or "no complete answer" in attempt["error"]
    assert 250 <= attempt["duration_ms"] < 2000


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_time(
    gw: RunningGateway, world: tuple[Partner, Fanout], receiver: WebhookReceiver
) -> None:
    a, fanout = world
    # Registered while private addresses were allowed (or while the name pointed elsewhere).
    hook = await subscribe(gw, a, f"http://localhost:{receiver.port}/rebound")
    await fanout.publish(delinquent(), a)
    await fanout.drain()
    strict = gw.gateway.settings.model_copy(update={"webhooks_allow_private_urls": False})
    assert await deliver_due(gw.db, gw.gateway.keys.sealer, strict) == 1
    assert receiver.received == []
    [delivery] = await deliveries(gw, a, hook["id"])
    [attempt] = delivery["attempts"]
    assert "loopback" in attempt["error"]
    assert delivery["status"] == "pending"  # retried later: the name may point elsewhere again


async def test_the_running_gateway_consumes_and_delivers_by_itself(
    gateway_db: Database,
    gw_settings: GatewaySettings,
    receiver: WebhookReceiver,
    bus: EventBus,
) -> None:
    settings = gw_settings.model_copy(update={"run_workers": True})
    async with running_gateway(gateway_db, settings) as gw:
        a = await new_partner(gw)
        hook = await subscribe(gw, a, receiver.url("/live"), ["billing.*"])
        data = delinquent()
        envelope = CloudEvent(
            source="urn:partnerguard:billing",
            type=data.event_type,
            data=data.model_dump(mode="json"),
            partnerid=a.id,
        )
        await bus.publish(
            data.definition().subject(a.id),
            envelope.model_dump_json(exclude_none=True).encode(),
            msg_id=str(envelope.id),
        )
        deadline = asyncio.get_running_loop().time() + 20
        while not receiver.to("/live"):
            assert asyncio.get_running_loop().time() < deadline, "no delivery arrived"
            await asyncio.sleep(0.05)
        [request] = receiver.to("/live")
        assert StandardWebhook(hook["secret"]).verify(request.body, request.headers)["id"] == str(
            envelope.id
        )


async def outbox_events(db: Database, event_type: str) -> list[dict[str, Any]]:
    async with db.sweep_session() as session:
        rows = await session.execute(
            select(OutboxEvent.envelope)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.seq)
        )
        return [row[0] for row in rows]


async def delivery_count(db: Database) -> int:
    async with db.sweep_session() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def self_signed(host: str) -> tuple[bytes, bytes]:
    """A certificate (PEM) valid for the DNS name ``host`` only, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_tls_connects_to_the_vetted_address_but_verifies_the_host_name(
    tmp_path: Path,
) -> None:
    cert, key = self_signed("localhost")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []

    def record_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = record_name
    receiver = WebhookReceiver(tls=server_tls)
    receiver.start()
    try:
        trust = ssl.create_default_context(cadata=cert.decode())
        async with WebhookSender(allow_private=True, ssl_context=trust) as sender:
            by_name = await sender.post(receiver.url("/tls", host="localhost"), b"{}", {})
            # The same server by its address: the certificate does not name it.
            by_address = await sender.post(receiver.url("/tls", host="127.0.0.1"), b"{}", {})
    finally:
        receiver.stop()
    assert by_name.status_code == 200, by_name.error
    assert names[0] == "localhost"
    assert by_address.status_code is None
    assert by_address.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in by_address.error
