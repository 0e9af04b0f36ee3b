"""Watch: usage and activity logs sent through the gateway raise alerts in monitoring, and the
partner's integration hears of them by signed webhook.

A customer that suddenly runs GPUs round the clock in a new region is flagged as crypto mining;
a customer's spend crossing budget thresholds is announced once per threshold, however often
its spend is evaluated again; an administrator disabling MFA raises an alert at once.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.e2e.customers import approved_customer
from tests.e2e.platform import Platform
from tests.e2e.usage import mining_usage, send_usage, usage
from tests.e2e.views import get, items
from tests.support.polling import eventually
from tests.support.webhook_receiver import Received, WebhookReceiver

pytestmark = pytest.mark.e2e

PARTNER = "watch"
ALERTS = "/v1/monitoring/alerts"
THRESHOLD_REACHED = "monitoring.budget.threshold_reached"
ALERT_RAISED = "monitoring.alert.raised"


async def subscribe_webhook(partner: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await partner.post(
        "/v1/webhooks",
        json={"url": url, "event_types": [THRESHOLD_REACHED, ALERT_RAISED]},
    )
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    return webhook


def delivered(deliveries: list[Received], secret: str) -> list[dict[str, Any]]:
    """The CloudEvents in ``deliveries``, each verified against the webhook's signing secret."""
    verifier = Webhook(secret)
    events = []
    for delivery in deliveries:
        verifier.verify(delivery.body, delivery.headers)
        events.append(json.loads(delivery.body))
    return events


async def received(receiver: WebhookReceiver, path: str, secret: str) -> list[dict[str, Any]]:
    """What the partner's integration has received at ``path`` so far, verified."""
    return delivered(receiver.to(path), secret)


def thresholds_in(events: list[dict[str, Any]]) -> list[int]:
    return [e["data"]["threshold_percent"] for e in events if e["type"] == THRESHOLD_REACHED]


def alerts_in(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["alert_id"] for e in events if e["type"] == ALERT_RAISED]


async def test_mining_a_budget_and_disabled_mfa_raise_alerts_once_each(platform: Platform) -> None:
    outside = platform.outside
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hook_path = f"/hooks/{uuid.uuid4()}"
    async with platform.client(PARTNER) as partner:
        webhook = await subscribe_webhook(partner, outside.webhooks.url(hook_path))
        miner = await approved_customer(partner, outside, "miner")
        spender = await approved_customer(partner, outside, "spender")

        # Crypto mining: sudden, flat GPU use in a new region.
        gpu = uuid.uuid4()
        records = mining_usage(miner, today, uuid.uuid4(), gpu)
        taken = await send_usage(partner, records)
        mining = await eventually(
            lambda: items(partner, ALERTS, customer_id=miner.customer_id, kind="crypto_mining"),
            lambda found: len(found) == 1,
            "a crypto-mining alert for the miner",
        )

        # A budget of 1000 EUR: 600 spent crosses 50 %; 200 more (and the first batch resent)
        # crosses 75 % and must not announce 50 % again.
        budget = await partner.put(
            f"/v1/monitoring/customers/{spender.customer_id}/budget",
            json={"amount": "1000", "currency": "EUR", "thresholds": [50, 75, 90, 100]},
        )
        assert budget.status_code == 201, budget.text
        month_start = today.replace(day=1)
        first = [usage(spender.tenant, uuid.uuid4(), month_start, "200") for _ in range(3)]
        await send_usage(partner, first)
        await eventually(
            lambda: get(partner, f"/v1/monitoring/customers/{spender.customer_id}/budget"),
            lambda got: [t["threshold"] for t in got["spend"]["thresholds_reached"]] == [50],
            "the 50 % threshold of the spender's budget",
        )
        more = await send_usage(
            partner, [*first, usage(spender.tenant, uuid.uuid4(), month_start, "200")]
        )
        standing = await eventually(
            lambda: get(partner, f"/v1/monitoring/customers/{spender.customer_id}/budget"),
            lambda got: len(got["spend"]["thresholds_reached"]) == 2,
            "the 75 % threshold of the spender's budget",
        )

        # An administrator of the miner's tenant turns MFA off.
        activity = await partner.post(
            "/v1/monitoring/activity-logs",
            json={
                "entries": [
                    {
                        "entry_id": str(uuid.uuid4()),
                        "vendor_tenant_id": str(miner.tenant),
                        "actor": f"admin@{miner.applicant.domain}",
                        "operation": "Disable per-user MFA",
                        "resource": f"ceo@{miner.applicant.domain}",
                        "result": "success",
                        "occurred_at": (now - timedelta(minutes=2)).isoformat(),
                    }
                ]
            },
        )
        assert activity.status_code == 200, activity.text
        raised_by_activity = activity.json()["alerts"]
        mfa = await items(partner, ALERTS, customer_id=miner.customer_id, kind="activity_rule")

        # The integration hears of the 75 % threshold and the MFA alert ...
        await eventually(
            lambda: received(outside.webhooks, hook_path, webhook["secret"]),
            lambda events: (
                75 in thresholds_in(events) and set(raised_by_activity) <= set(alerts_in(events))
            ),
            "webhooks announcing the 75 % threshold and the MFA alert",
        )
        # ... and a second announcement of 50 %, which would have come before the 75 % one
        # (one customer's events are delivered in order), would be among the deliveries.
        await eventually(
            lambda: items(partner, f"/v1/webhooks/{webhook['id']}/deliveries"),
            lambda found: all(d["status"] == "succeeded" for d in found),
            "every webhook delivery to be made",
        )
        events = await received(outside.webhooks, hook_path, webhook["secret"])

    (alert,) = mining
    assert alert["severity"] == "critical"
    assert alert["rule"] == "new_regions+flat_usage"
    assert alert["subscription_ids"] == [str(gpu)]
    assert alert["evidence"]["heavy_cost"] == "288"
    assert alert["evidence"]["new_regions"] == "koreacentral"
    assert taken["accepted"] == len(records)

    assert more["accepted"] == 1
    assert more["duplicates"] == len(first)
    assert standing["spend"]["spent"] == "800"
    assert [(t["threshold"], t["spent"]) for t in standing["spend"]["thresholds_reached"]] == [
        (50, "600"),
        (75, "800"),
    ]

    assert activity.json()["accepted"] == 1
    (mfa_alert,) = mfa
    assert mfa_alert["rule"] == "mfa_disabled"
    assert mfa_alert["summary"].startswith("MFA disabled by admin@")
    assert raised_by_activity == [mfa_alert["id"]]

    # The partner's integration heard of each threshold once, and of the alerts.
    assert sorted(thresholds_in(events)) == [50, 75]
    assert {alert["id"], mfa_alert["id"]} <= set(alerts_in(events))
    partner_id = str((await platform.partner(PARTNER)).partner_id)
    assert {e["partnerid"] for e in events} == {partner_id}
