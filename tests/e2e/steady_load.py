"""A partner's systems writing to the platform at a steady pace, as they keep doing through an
outage: each write carries an ``Idempotency-Key`` where the API takes one and is sent again,
with the same key, after a connection error, a 5xx, a 429 or a 409 saying the key is still in
flight, until it is answered. What the platform accepted goes into a :class:`Ledger`: the
effects every service must show, each exactly once.

Four lanes run side by side, each paced on its own:

* usage: batches of rated usage records (the vendor's feed) for the customers monitoring
  knows, identified by record id, so a re-sent batch counts once; records of a customer
  monitoring has not heard of yet are refused and sent again later;
* onboarding: new customers taken through the whole signup (application, SMS and e-mail
  codes, identity and credit checks, collections policy) to approval;
* billing: invoices, and posted payments of them, on a few accounts;
* holds: new subscriptions registered with enforcement and put on a manual hold each, which
  enforcement carries out at the vendor.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.customers import (
    CUSTOMERS,
    POLICY_VERSION,
    Applicant,
    Customer,
    application,
    new_applicant,
)
from tests.e2e.outside import Outside
from tests.e2e.usage import usage

# How long one request may take to be accepted, retries included: longer than any outage the
# faults cause.
PATIENCE = 45.0
_FIRST_PAUSE = 0.1
_LONGEST_PAUSE = 1.0
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
RECORDS_PER_BATCH = 5
USAGE_CURRENCY = "USD"  # the currency billing opens accounts in: its exposure counts the usage


class NotAccepted(AssertionError):
    """A write the platform did not accept, however long it was retried."""


@dataclass(frozen=True)
class PlacedHold:
    """A manual hold the platform accepted on one subscription."""

    customer_id: str
    hold_id: str
    accepted_at: float  # time.monotonic()


@dataclass
class Traffic:
    """What the partner's systems sent: requests answered for good, and attempts retried."""

    answered: Counter[str] = field(default_factory=Counter)  # by lane
    retried: Counter[str] = field(default_factory=Counter)  # by what went wrong
    started: float = field(default_factory=time.monotonic)

    @property
    def requests(self) -> int:
        return sum(self.answered.values())

    def rate(self) -> float:
        """Requests answered per second since the start."""
        return self.requests / max(time.monotonic() - self.started, 1e-9)


class PartnerSystem:
    """A partner's integration on the gateway, retrying what did not get a real answer."""

    def __init__(self, http: httpx.AsyncClient, traffic: Traffic) -> None:
        self.http = http
        self.traffic = traffic

    async def request(
        self,
        lane: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """The first answer that is not a transient failure; :class:`NotAccepted` when none
        came within :data:`PATIENCE` seconds."""
        headers = {"Idempotency-Key": key} if key is not None else None
        deadline = time.monotonic() + PATIENCE
        pause = _FIRST_PAUSE
        while True:
            try:
                response = await self.http.request(
                    method, path, json=body, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                failure = seen = type(exc).__name__
            else:
                if not _transient(response, key):
                    self.traffic.answered[lane] += 1
                    return response
                failure = str(response.status_code)
                seen = f"{response.status_code} {response.text[:300]}"
            self.traffic.retried[failure] += 1
            if time.monotonic() + pause > deadline:
                raise NotAccepted(f"{method} {path}: no answer in {PATIENCE:g}s (last: {seen})")
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)

    async def write(
        self, lane: str, path: str, body: Any, *, idempotent: bool = True
    ) -> dict[str, Any]:
        """POST until accepted (2xx); its JSON. One key serves every attempt."""
        key = str(uuid.uuid4()) if idempotent else None
        response = await self.request(lane, "POST", path, body=body, key=key)
        if not response.is_success:
            raise NotAccepted(f"POST {path}: {response.status_code} {response.text[:500]}")
        answer: dict[str, Any] = response.json()
        return answer

    async def read(self, path: str, **params: Any) -> Any:
        response = await self.request("reads", "GET", path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    async def read_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list, page after page."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.read(
                path, limit=200, **params, **({"cursor": cursor} if cursor else {})
            )
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found


def _transient(response: httpx.Response, key: str | None) -> bool:
    if response.status_code in _TRANSIENT:
        return True
    # The same key still being worked on (the attempt we gave up on): ask again.
    return response.status_code == 409 and key is not None and "Idempotency-Key" in response.text


class Pace:
    """At most ``per_second`` steps a second, shared by a lane's workers; a lane held up by an
    outage does not burst afterwards."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.next = time.monotonic()

    async def step(self) -> None:
        now = time.monotonic()
        slot = max(self.next, now)
        self.next = slot + self.interval  # taken before sleeping: each worker its own slot
        await asyncio.sleep(slot - now)


@dataclass
class Ledger:
    """What the platform accepted from the partner: every effect it must show, once."""

    # usage records taken by monitoring, per customer: how many, and their cost
    usage_records: Counter[str] = field(default_factory=Counter)
    usage_cost: dict[str, Decimal] = field(default_factory=dict)
    refused_usage: list[dict[str, Any]] = field(default_factory=list)
    # customers the onboarding lane took to approval, and those it could not
    approved: list[Customer] = field(default_factory=list)
    undecided: dict[str, str] = field(default_factory=dict)
    # billing: account → invoice id → total, and account → payment id → amount (minor units)
    invoices: dict[str, dict[str, int]] = field(default_factory=dict)
    payments: dict[str, dict[str, int]] = field(default_factory=dict)
    # enforcement: subscription → the manual hold placed on it
    holds: dict[str, PlacedHold] = field(default_factory=dict)

    def took_usage(self, customer_id: str, cost: str) -> None:
        self.usage_records[customer_id] += 1
        self.usage_cost[customer_id] = self.usage_cost.get(customer_id, Decimal(0)) + Decimal(cost)


@dataclass
class Rates:
    """Steps (requests) per second of each lane, and how many workers share them: a worker
    waits for each answer, as a partner's system does, so one alone would slow to the
    platform's latency."""

    usage: float = 12.0
    usage_workers: int = 3
    onboarding: float = 6.0
    onboarding_workers: int = 2  # two applicants at a time
    billing: float = 4.0  # one worker per billing customer
    holds: float = 3.0  # one worker per customer held


class SteadyLoad:
    """The four lanes, from :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        partner: PartnerSystem,
        outside: Outside,
        *,
        usage_customers: list[Customer],
        billing_customers: list[Customer],
        hold_customers: list[Customer],
        usage_day: date,
        rates: Rates | None = None,
    ) -> None:
        self.partner = partner
        self.outside = outside
        self.ledger = Ledger()
        self.rates = rates or Rates()
        self.usage_day = usage_day
        # Grows as the onboarding lane approves customers.
        self.usage_customers = list(usage_customers)
        self.billing_customers = billing_customers
        self.hold_customers = hold_customers
        # Records monitoring refused (their customer not known yet), to send again.
        self._unsent: deque[tuple[str, dict[str, Any]]] = deque()
        self._stopping = asyncio.Event()
        self._random = random.Random(20240401)  # noqa: S311 - test data, not secrets
        self._onboarded = itertools.count(1)

    def stop(self) -> None:
        """Have every worker finish the step in hand; :meth:`run` then returns once the usage
        monitoring refused meanwhile has been taken."""
        self._stopping.set()

    async def run(self) -> None:
        rates = self.rates
        usage, onboarding = Pace(rates.usage), Pace(rates.onboarding)
        customers = itertools.count()
        async with asyncio.TaskGroup() as lanes:
            for n in range(rates.usage_workers):
                lanes.create_task(self._usage_lane(usage, customers), name=f"load:usage:{n}")
            for n in range(rates.onboarding_workers):
                lanes.create_task(self._onboarding_lane(onboarding), name=f"load:onboarding:{n}")
            for customer in self.billing_customers:
                lanes.create_task(self._billing_lane(customer), name="load:billing")
            for customer in self.hold_customers:
                lanes.create_task(self._holds_lane(customer), name="load:holds")
        # Every lane has stopped, the onboarding lane's last approvals included: what
        # monitoring refused while it had not heard of a customer goes again until taken.
        deadline = time.monotonic() + PATIENCE
        while self._unsent:
            if time.monotonic() > deadline:
                raise NotAccepted(f"monitoring never took {len(self._unsent)} usage records")
            await usage.step()
            await self._send_usage(self._take_unsent())

    # -- usage ------------------------------------------------------------------------------

    async def _usage_lane(self, pace: Pace, customers: Iterator[int]) -> None:
        while not self._stopping.is_set():
            await pace.step()
            batch = self._take_unsent()
            for _ in range(RECORDS_PER_BATCH):
                customer = self.usage_customers[next(customers) % len(self.usage_customers)]
                batch.append(self._usage_record(customer))
            await self._send_usage(batch)

    def _take_unsent(self, most: int = 50) -> list[tuple[str, dict[str, Any]]]:
        return [self._unsent.popleft() for _ in range(min(len(self._unsent), most))]

    def _usage_record(self, customer: Customer) -> tuple[str, dict[str, Any]]:
        hour = self._random.randrange(24)
        start = datetime(
            self.usage_day.year, self.usage_day.month, self.usage_day.day, hour, tzinfo=UTC
        )
        cost = f"{Decimal(self._random.randint(1, 999)) / 100}"
        # One subscription per customer, hour after hour, as the vendor's feed has it.
        subscription = uuid.uuid5(uuid.NAMESPACE_URL, f"usage:{customer.customer_id}")
        record = usage(customer.tenant, subscription, start, cost) | {"currency": USAGE_CURRENCY}
        return customer.customer_id, record

    async def _send_usage(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        # No key: a batch sent again is safe by its records' ids (stored ones are duplicates).
        summary = await self.partner.write(
            "usage",
            "/v1/monitoring/usage",
            {"records": [record for _, record in batch]},
            idempotent=False,
        )
        refused = {problem["index"]: problem for problem in summary["rejected"]}
        for index, (customer_id, record) in enumerate(batch):
            problem = refused.get(index)
            if problem is None:
                self.ledger.took_usage(customer_id, record["cost"])
            elif _unknown_tenant(problem):
                self._unsent.append((customer_id, record))
            else:
                self.ledger.refused_usage.append(problem)

    # -- onboarding -------------------------------------------------------------------------

    async def _onboarding_lane(self, pace: Pace) -> None:
        while not self._stopping.is_set():
            applicant = new_applicant(f"steady{next(self._onboarded)}")
            customer_id, status = await self._onboard(applicant, pace)
            if status != "approved":
                self.ledger.undecided[customer_id] = status
                continue
            # Its account is billing's to open, from the approval: the reconciliation's to find.
            customer = Customer(applicant, customer_id, account_id="")
            self.ledger.approved.append(customer)
            # Its usage starts at once, before monitoring may have heard of it.
            self.usage_customers.append(customer)
            self._unsent.append(self._usage_record(customer))

    async def _onboard(self, applicant: Applicant, pace: Pace) -> tuple[str, str]:
        """Take ``applicant`` through the signup; its customer id and final status."""
        write = self.partner.write
        await pace.step()
        submitted = await write("onboarding", CUSTOMERS, application(applicant))
        path = f"{CUSTOMERS}/{submitted['customer_id']}"
        for channel in ("sms", "email"):
            await pace.step()
            started = await write("onboarding", f"{path}/verifications", {"channel": channel})
            if channel == "sms":
                code = self.outside.sms.last_code_for(applicant.phone)
            else:
                code = self.outside.mail.last_code_for(applicant.email)
            assert code is not None, f"no {channel} code reached {applicant.company}"
            await pace.step()
            await self._confirm(f"{path}/verifications", started["id"], code)
        for check in ("identity-check", "credit-report"):
            await pace.step()
            await write("onboarding", f"{path}/{check}", None)
        await pace.step()
        # Not replayable by key; accepting again after a lost answer is harmless.
        decided = await write(
            "onboarding",
            f"{path}/collections-acceptance",
            {
                "policy_version": POLICY_VERSION,
                "accepted_by": "Erika Mustermann",
                "ip_address": "203.0.113.10",
            },
            idempotent=False,
        )
        return submitted["customer_id"], decided["status"]

    async def _confirm(self, verifications: str, verification_id: str, code: str) -> None:
        """Enter the code. Not replayable by key: after a lost answer, the code was taken
        when the verification is no longer pending (409) and has passed."""
        response = await self.partner.request(
            "onboarding",
            "POST",
            f"{verifications}/{verification_id}/confirm",
            body={"code": code},
        )
        if response.status_code == 409:
            listed = await self.partner.read(verifications)
            status = next(v["status"] for v in listed if v["id"] == verification_id)
        else:
            assert response.status_code == 200, response.text
            status = response.json()["status"]
        assert status == "passed", f"verification {verification_id}: {status}"

    # -- billing ----------------------------------------------------------------------------

    async def _billing_lane(self, customer: Customer) -> None:
        """Invoices for ``customer``'s account, and a posted payment of one after every two."""
        pace = Pace(self.rates.billing / len(self.billing_customers))
        today = datetime.now(UTC).date()
        account = customer.account_id
        unpaid: deque[dict[str, Any]] = deque()
        for step in itertools.count():
            if self._stopping.is_set():
                return
            await pace.step()
            if step % 3 == 2 and unpaid:
                await self._pay(account, unpaid.popleft())
                continue
            invoice = await self.partner.write(
                "billing",
                "/v1/billing/invoices",
                {
                    "account_id": account,
                    "currency": USAGE_CURRENCY,
                    "lines": [
                        {
                            "description": "Azure plan",
                            "quantity": "1",
                            "unit_amount": self._random.randint(100, 99_900),
                        }
                    ],
                    "terms_days": 14,
                    "issued_on": today.isoformat(),
                },
            )
            self.ledger.invoices.setdefault(account, {})[invoice["id"]] = invoice["total"]["amount"]
            unpaid.append(invoice)

    async def _pay(self, account: str, invoice: dict[str, Any]) -> None:
        payment = await self.partner.write(
            "billing",
            "/v1/billing/payments",
            {
                "account_id": account,
                "amount": invoice["total"],
                "method": "bank_transfer",
                "reference": invoice["number"],
                "invoice_ids": [invoice["id"]],
                "status": "posted",
            },
        )
        self.ledger.payments.setdefault(account, {})[payment["id"]] = payment["amount"]["amount"]

    # -- holds ------------------------------------------------------------------------------

    async def _holds_lane(self, customer: Customer) -> None:
        """New subscriptions of ``customer``, each registered, then held."""
        pace = Pace(self.rates.holds / len(self.hold_customers))
        while not self._stopping.is_set():
            subscription = uuid.uuid4()
            self.outside.provider.add_subscription(customer.tenant, subscription)
            await pace.step()
            await self.partner.write(
                "holds",
                f"/v1/enforcement/customers/{customer.customer_id}/subscriptions",
                {
                    "subscription_id": str(subscription),
                    "commerce": "new_commerce",
                    "offer": "Azure plan",
                },
            )
            await pace.step()
            hold = await self.partner.write(
                "holds",
                "/v1/enforcement/holds",
                {
                    "customer_id": customer.customer_id,
                    "subscription_id": str(subscription),
                    "reason": "manual",
                    "note": "steady load",
                },
            )
            self.ledger.holds[str(subscription)] = PlacedHold(
                customer.customer_id, hold["id"], time.monotonic()
            )


def _unknown_tenant(problem: dict[str, Any]) -> bool:
    return any(error["loc"][-1] == "vendor_tenant_id" for error in problem["errors"])
