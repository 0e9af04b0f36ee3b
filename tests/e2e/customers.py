"""Customers onboarded through the gateway as a partner's signup system does it: submit the
application, have the contact confirm the codes that reached the fake SMS gateway and mail
server, run the identity and credit checks, record the collections-policy acceptance. Then
their subscriptions, held at the (fake) vendor and registered with enforcement."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.outside import Outside
from tests.e2e.views import billing_account, registry_entry
from tests.support.polling import eventually_found

CUSTOMERS = "/v1/onboarding/customers"
POLICY_VERSION = "e2e-1"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"

# Phones, addresses and devices are never shared between applicants of one session: the
# velocity rules would rightly count a shared one against the next applicant.
_serial = itertools.count(1)


@dataclass(frozen=True)
class Applicant:
    """Who applies: a German company on its own domain, with unique contact details."""

    company: str
    domain: str
    registration_number: str
    phone: str
    ip: str
    device_id: str
    vendor_tenant_id: uuid.UUID

    @property
    def email(self) -> str:
        return f"finance@{self.domain}"


def new_applicant(label: str) -> Applicant:
    serial = next(_serial)
    slug = f"{label}-{serial}-{uuid.uuid4().hex[:6]}"
    return Applicant(
        company=f"{label.title()} {serial} GmbH",
        domain=f"{slug}.example",
        registration_number=f"HRB {100000 + serial}",
        # Berlin landlines: valid numbers of the company's own country.
        phone=f"+4930{90000000 + serial}",
        # The benchmarking block 198.18.0.0/15: routable nowhere, plenty of addresses.
        ip=str(ipaddress.ip_address("198.18.0.0") + serial),
        device_id=f"device-{uuid.uuid4()}",
        vendor_tenant_id=uuid.uuid4(),
    )


def application(applicant: Applicant, **signup: Any) -> dict[str, Any]:
    """The application body; ``signup`` replaces parts of the signup context (user agent ...)."""
    return {
        "company": {
            "name": applicant.company,
            "domain": applicant.domain,
            "country": "DE",
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"},
            "registration_number": applicant.registration_number,
        },
        "contact": {"name": "Erika Mustermann", "email": applicant.email, "phone": applicant.phone},
        "vendor_tenant_id": str(applicant.vendor_tenant_id),
        "payment_instrument": {"type": "credit_card", "card_bin": "45717360", "card_country": "DE"},
        "signup": {
            "ip": applicant.ip,
            "user_agent": FIREFOX,
            "device_id": applicant.device_id,
            "form_fill_seconds": 95.0,
            "ip_country": "DE",
        }
        | signup,
    }


async def publish_collections_policy(client: httpx.AsyncClient) -> None:
    """The partner's collections policy, which every customer accepts before approval."""
    response = await client.put(
        "/v1/onboarding/collections-policy",
        json={
            "version": POLICY_VERSION,
            "text": "Invoices are due in 14 days. Access is suspended 30 days after the due date.",
            "payment_terms_days": 14,
            "grace_days": 7,
            "suspension_day": 30,
        },
    )
    # 409: published by an earlier flow of the same partner; versions never change.
    assert response.status_code in (201, 409), response.text


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


async def confirm_contact(
    client: httpx.AsyncClient, outside: Outside, customer: dict[str, Any], applicant: Applicant
) -> None:
    """The contact enters the codes it received by SMS and by e-mail."""
    path = f"{CUSTOMERS}/{customer['customer_id']}/verifications"
    for channel in ("sms", "email"):
        started = await client.post(path, json={"channel": channel})
        assert started.status_code == 201, started.text
        # The code is handed over before the answer: it has reached the fake by now.
        if channel == "sms":
            code = outside.sms.last_code_for(applicant.phone)
        else:
            code = outside.mail.last_code_for(applicant.email)
        assert code is not None, f"no {channel} code reached {applicant.company}'s contact"
        confirmed = await client.post(f"{path}/{started.json()['id']}/confirm", json={"code": code})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "passed", confirmed.text


async def run_checks(client: httpx.AsyncClient, customer: dict[str, Any]) -> dict[str, Any]:
    """The identity check and the credit report; the customer as re-scored after them."""
    path = f"{CUSTOMERS}/{customer['customer_id']}"
    rescored: dict[str, Any] = customer
    for check in ("identity-check", "credit-report"):
        response = await client.post(f"{path}/{check}")
        assert response.status_code == 201, response.text
        rescored = response.json()["customer"]
    return rescored


async def accept_collections_policy(
    client: httpx.AsyncClient, customer: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"{CUSTOMERS}/{customer['customer_id']}/collections-acceptance",
        json={
            "policy_version": POLICY_VERSION,
            "accepted_by": "Erika Mustermann",
            "ip_address": "203.0.113.10",
        },
    )
    assert response.status_code == 201, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def onboard(
    client: httpx.AsyncClient, outside: Outside, applicant: Applicant
) -> dict[str, Any]:
    """Take a clean applicant through every step; the customer, approved."""
    await publish_collections_policy(client)
    customer = await submit(client, application(applicant))
    await confirm_contact(client, outside, customer, applicant)
    await run_checks(client, customer)
    approved = await accept_collections_policy(client, customer)
    assert approved["status"] == "approved", approved
    return approved


async def set_up_downstream(
    client: httpx.AsyncClient, customer: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The billing account and the enforcement registry entry an approval leads to, once both
    services have taken onboarding's event."""
    customer_id = customer["customer_id"]
    account = await eventually_found(
        lambda: billing_account(client, customer_id),
        f"billing to open an account for approved customer {customer_id}",
    )
    entry = await eventually_found(
        lambda: registry_entry(client, customer_id),
        f"enforcement to register approved customer {customer_id}",
    )
    return account, entry


@dataclass(frozen=True)
class Customer:
    """An approved customer, with what billing and enforcement made of it."""

    applicant: Applicant
    customer_id: str
    account_id: str

    @property
    def tenant(self) -> uuid.UUID:
        return self.applicant.vendor_tenant_id


async def approved_customer(client: httpx.AsyncClient, outside: Outside, label: str) -> Customer:
    """A new customer onboarded and approved, its billing account and registry entry in place."""
    applicant = new_applicant(label)
    approved = await onboard(client, outside, applicant)
    account, _ = await set_up_downstream(client, approved)
    return Customer(applicant, approved["customer_id"], account["id"])


async def add_subscription(
    client: httpx.AsyncClient, outside: Outside, customer: Customer, offer: str
) -> uuid.UUID:
    """A new-commerce subscription the customer holds at the vendor, registered with enforcement."""
    subscription_id = uuid.uuid4()
    outside.provider.add_subscription(customer.tenant, subscription_id)
    response = await client.post(
        f"/v1/enforcement/customers/{customer.customer_id}/subscriptions",
        json={"subscription_id": str(subscription_id), "commerce": "new_commerce", "offer": offer},
    )
    assert response.status_code == 201, response.text
    return subscription_id


# A subscription seen from both sides: (the vendor's status, enforcement's record of the vendor's
# status, the status enforcement's holds want).
SUSPENDED = ("suspended", "suspended", "suspended")
ACTIVE = ("active", "active", "active")


async def subscription_states(
    client: httpx.AsyncClient, outside: Outside, customer: Customer
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Each of the customer's registered subscriptions, as the vendor and enforcement see it."""
    entry = await registry_entry(client, customer.customer_id)
    assert entry is not None, f"customer {customer.customer_id} is not in the registry"
    states = {}
    for registered in entry["subscriptions"]:
        subscription = uuid.UUID(registered["subscription_id"])
        vendor = outside.provider.status_of(customer.tenant, subscription)
        states[subscription] = (vendor, registered["status"], registered["desired_status"])
    return states
