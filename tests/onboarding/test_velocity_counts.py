"""Velocity as the database counts it: applications of this partner sharing each key's value
within that key's window, for whichever keys an application has."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

from partnerguard.onboarding.applications.repository import ApplicationRepository, Screening
from partnerguard.onboarding.lists.repository import HitLookup
from partnerguard.onboarding.scoring import VelocityKey
from tests.support.onboarding import (
    RunningOnboarding,
    application_body,
    publish_collections_policy,
)

CUSTOMERS = "/v1/onboarding/customers"
IP, DEVICE, DOMAIN, PHONE, BIN = (
    VelocityKey.IP,
    VelocityKey.DEVICE,
    VelocityKey.EMAIL_DOMAIN,
    VelocityKey.PHONE,
    VelocityKey.CARD_BIN,
)
HOUR = dict.fromkeys(VelocityKey, 60)


async def apply(
    onboarding: RunningOnboarding,
    partner_id: uuid.UUID,
    n: int,
    *,
    ip: str,
    device: str,
    card_bin: str = "45717360",
) -> None:
    """Submit an application of its own domain and phone, with this address, device and BIN."""
    domain = f"velocity-{n}.example"
    application = application_body(
        contact={
            "name": "Erika Mustermann",
            "email": f"erika@{domain}",
            "phone": f"+49309018{n:03d}",
        },
        payment_instrument={"type": "credit_card", "card_bin": card_bin, "card_country": "DE"},
    )
    application["company"] = {**application["company"], "domain": domain}
    application["signup"] = {**application["signup"], "ip": ip, "device_id": device}
    response = await onboarding.http.post(
        CUSTOMERS, json=application, headers=onboarding.headers(partner_id)
    )
    assert response.status_code == 201, response.text


async def velocity(
    onboarding: RunningOnboarding,
    partner_id: uuid.UUID,
    values: dict[VelocityKey, object],
    windows: dict[VelocityKey, int] = HOUR,
    now: datetime | None = None,
) -> dict[VelocityKey, int]:
    async with onboarding.db.tenant_session(partner_id) as session:
        screening = await ApplicationRepository(session).screening(
            partner_id, values, windows, HitLookup(), None, now or datetime.now(UTC)
        )
        return screening.velocity


async def test_each_key_counts_the_partners_applications_sharing_its_value(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    device = f"device-{uuid.uuid4()}"
    await apply(onboarding, partner_id, 1, ip="203.0.113.7", device=device)
    await apply(onboarding, partner_id, 2, ip="203.0.113.7", device=device, card_bin="52000000")
    await apply(onboarding, partner_id, 3, ip="198.51.100.9", device="other")
    # Another partner's applications with the same values count for nobody here.
    stranger = uuid.uuid4()
    await apply(onboarding, stranger, 1, ip="203.0.113.7", device=device)

    counts = await velocity(
        onboarding,
        partner_id,
        {
            IP: "203.0.113.7",
            DEVICE: device,
            DOMAIN: "velocity-1.example",
            PHONE: "+49309018001",
            BIN: "45717360",
        },
    )

    assert counts == {IP: 2, DEVICE: 2, DOMAIN: 1, PHONE: 1, BIN: 2}


async def test_keys_without_a_value_or_a_window_are_not_counted(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    device = f"device-{uuid.uuid4()}"
    await apply(onboarding, partner_id, 4, ip="203.0.113.8", device=device)

    # Statements are built once per set of keys: each set must count only its own keys.
    only_device = await velocity(onboarding, partner_id, {IP: None, DEVICE: device, BIN: None})
    no_bin_window = await velocity(
        onboarding,
        partner_id,
        {IP: "203.0.113.8", DEVICE: device, BIN: "45717360"},
        windows={IP: 60, DEVICE: 60},
    )
    nothing = await velocity(onboarding, partner_id, {IP: None, DEVICE: None})

    assert only_device == {DEVICE: 1}
    assert no_bin_window == {IP: 1, DEVICE: 1}
    assert nothing == {}


async def test_each_key_counts_only_within_its_own_window(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    device = f"device-{uuid.uuid4()}"
    await apply(onboarding, partner_id, 5, ip="203.0.113.9", device=device)
    later = datetime.now(UTC) + timedelta(minutes=90)

    counts = await velocity(
        onboarding,
        partner_id,
        {IP: "203.0.113.9", DEVICE: device},
        windows={IP: 60, DEVICE: 24 * 60},
        now=later,
    )

    assert counts == {IP: 0, DEVICE: 1}


async def test_counts_list_hits_and_the_accepted_policy_are_read_together(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    """One row of counts is repeated beside each list hit: neither multiplies the other."""
    device = f"device-{uuid.uuid4()}"
    await apply(onboarding, partner_id, 1, ip="203.0.113.7", device=device)
    await apply(onboarding, partner_id, 2, ip="203.0.113.7", device=device)
    headers = onboarding.headers(partner_id)
    for kind, value in (("device", device), ("ip", "203.0.113.0/24")):
        entry = {"list": "block", "kind": kind, "value": value, "reason": "seen in fraud"}
        response = await onboarding.http.post(
            "/v1/onboarding/lists/entries", json=entry, headers=headers
        )
        assert response.status_code == 201, response.text
    published = await publish_collections_policy(onboarding, partner_id)
    lookup = HitLookup(ip=ip_address("203.0.113.7"), devices=(device,))

    async with onboarding.db.tenant_session(partner_id) as session:
        repository = ApplicationRepository(session)
        values = {VelocityKey.IP: ip_address("203.0.113.7"), VelocityKey.DEVICE: device}
        found = await repository.screening(
            partner_id, values, HOUR, lookup, "2026-11", datetime.now(UTC)
        )
        unpublished = await repository.screening(
            partner_id, {}, {}, HitLookup(), "2027-01", datetime.now(UTC)
        )

    assert found.velocity == {VelocityKey.IP: 2, VelocityKey.DEVICE: 2}
    assert [(hit.kind, hit.value) for hit in found.hits] == [
        ("device", device),
        ("ip", "203.0.113.0/24"),
    ]
    assert found.collections_policy_id == uuid.UUID(published["id"])
    assert unpublished == Screening(velocity={}, hits=[], collections_policy_id=None)
