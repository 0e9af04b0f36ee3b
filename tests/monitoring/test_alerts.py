"""Alerts over HTTP: listed and filtered newest first, acknowledged, resolved (with its event),
and precision per detector from the resolutions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.alerts.raising import Finding, raise_alert
from tests.support.monitoring import RunningMonitoring

URL = "/v1/monitoring/alerts"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def plant(
    monitoring: RunningMonitoring,
    partner_id: uuid.UUID,
    *,
    kind: AlertKind = AlertKind.SPEND_ANOMALY,
    rule: str | None = "daily",
    severity: Severity = Severity.MEDIUM,
    customer_id: uuid.UUID | None = None,
    raised_at: datetime = T0,
) -> str:
    """Raise an alert the way detectors do; its id."""
    finding = Finding(
        kind=kind,
        severity=severity,
        summary=f"{kind.value} planted by a test",
        dedup_key=f"test:{uuid.uuid4()}",
        customer_id=customer_id or uuid.uuid4(),
        rule=rule,
        evidence={"observed": "950.00", "baseline": "120.00", "z": 7.5, "points": 8},
    )
    async with monitoring.db.tenant_session(partner_id) as session:
        alert = await raise_alert(session, partner_id, finding, raised_at)
    assert alert is not None
    return str(alert.id)


async def resolve(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, alert_id: str, resolution: str
) -> dict[str, Any]:
    response = await monitoring.http.post(
        f"{URL}/{alert_id}/resolve",
        json={"resolution": resolution, "actor": "analyst", "note": "checked with the customer"},
        headers=monitoring.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def acknowledge(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, alert_id: str
) -> dict[str, Any]:
    response = await monitoring.http.post(
        f"{URL}/{alert_id}/acknowledge",
        json={"actor": "analyst"},
        headers=monitoring.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_alert_reads_with_its_evidence(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    alert_id = await plant(monitoring, partner_id, customer_id=customer_id)

    got = await monitoring.http.get(f"{URL}/{alert_id}", headers=monitoring.headers(partner_id))

    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "open"
    assert body["kind"] == "spend_anomaly"
    assert body["rule"] == "daily"
    assert body["customer_id"] == str(customer_id)
    assert body["evidence"] == {"observed": "950.00", "baseline": "120.00", "z": 7.5, "points": 8}
    assert datetime.fromisoformat(body["raised_at"]) == T0
    assert body["resolution"] is None


async def test_list_is_newest_first_and_pages(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    planted = [await plant(monitoring, partner_id) for _ in range(3)]
    headers = monitoring.headers(partner_id)

    first = await monitoring.http.get(f"{URL}?limit=2", headers=headers)
    second = await monitoring.http.get(
        f"{URL}?limit=2&cursor={first.json()['next_cursor']}", headers=headers
    )

    ids = [a["id"] for a in first.json()["items"] + second.json()["items"]]
    assert ids == list(reversed(planted))
    assert second.json()["next_cursor"] is None


async def test_list_filters(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> None:
    customer_id = uuid.uuid4()
    daily = await plant(monitoring, partner_id, rule="daily", raised_at=T0)
    mining = await plant(
        monitoring,
        partner_id,
        kind=AlertKind.CRYPTO_MINING,
        rule=None,
        severity=Severity.CRITICAL,
        customer_id=customer_id,
        raised_at=T0 + timedelta(days=1),
    )
    mfa = await plant(
        monitoring,
        partner_id,
        kind=AlertKind.ACTIVITY_RULE,
        rule="mfa_disabled",
        severity=Severity.HIGH,
        raised_at=T0 + timedelta(days=2),
    )
    await acknowledge(monitoring, partner_id, mfa)
    await resolve(monitoring, partner_id, daily, "false_positive")
    headers = monitoring.headers(partner_id)

    async def ids(query: str) -> list[str]:
        response = await monitoring.http.get(f"{URL}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids("status=open") == [mining]
    assert await ids("status=acknowledged") == [mfa]
    assert await ids("status=resolved") == [daily]
    assert await ids("kind=crypto_mining") == [mining]
    assert await ids("severity=high") == [mfa]
    assert await ids(f"customer_id={customer_id}") == [mining]
    assert await ids("rule=mfa_disabled") == [mfa]
    from_, to = (T0 + timedelta(days=1)).isoformat(), (T0 + timedelta(days=2)).isoformat()
    assert await ids(f"raised_from={from_.replace('+', '%2B')}") == [mfa, mining]
    assert await ids(f"raised_to={to.replace('+', '%2B')}") == [mining, daily]


async def test_bad_filters_are_problem_json(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id)
    for query in (
        "status=closed",
        "kind=astrology",
        "severity=extreme",
        "customer_id=nope",
        "raised_from=yesterday",
        "raised_from=2026-03-02T09:00:00",  # no offset
        "raised_from=2026-03-03T00:00:00Z&raised_to=2026-03-02T00:00:00Z",
        "limit=0",
    ):
        response = await monitoring.http.get(f"{URL}?{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
    cursor = await monitoring.http.get(f"{URL}?cursor=garbage", headers=headers)
    assert cursor.status_code == 400


async def test_acknowledging_marks_who_and_when_and_is_idempotent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)

    first = await acknowledge(monitoring, partner_id, alert_id)
    again = await monitoring.http.post(
        f"{URL}/{alert_id}/acknowledge",
        json={"actor": "someone-else"},
        headers=monitoring.headers(partner_id),
    )

    assert first["status"] == "acknowledged"
    assert first["acknowledged_by"] == "analyst"
    assert first["acknowledged_at"] is not None
    assert again.status_code == 200
    assert again.json()["acknowledged_by"] == "analyst"
    assert again.json()["acknowledged_at"] == first["acknowledged_at"]


async def test_acknowledging_a_resolved_alert_is_a_conflict(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)
    await resolve(monitoring, partner_id, alert_id, "confirmed")

    refused = await monitoring.http.post(
        f"{URL}/{alert_id}/acknowledge", json={"actor": "x"}, headers=monitoring.headers(partner_id)
    )

    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


async def test_resolving_closes_the_alert_and_emits_resolved(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    alert_id = await plant(monitoring, partner_id, customer_id=customer_id)
    await acknowledge(monitoring, partner_id, alert_id)

    resolved = await resolve(monitoring, partner_id, alert_id, "confirmed")

    assert resolved["status"] == "resolved"
    assert resolved["resolution"] == "confirmed"
    assert resolved["resolved_by"] == "analyst"
    assert resolved["note"] == "checked with the customer"
    (event,) = await monitoring.events(partner_id, "monitoring.alert.resolved")
    assert event["subject"] == alert_id
    assert event["customerid"] == str(customer_id)
    assert event["data"]["alert_id"] == alert_id
    assert event["data"]["kind"] == "spend_anomaly"
    assert event["data"]["resolution"] == "confirmed"
    assert event["data"]["customer_id"] == str(customer_id)
    assert event["data"]["note"] == "checked with the customer"


async def test_resolving_a_resolved_alert_is_a_conflict_and_emits_nothing_more(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)
    await resolve(monitoring, partner_id, alert_id, "false_positive")

    again = await monitoring.http.post(
        f"{URL}/{alert_id}/resolve",
        json={"resolution": "confirmed", "actor": "x"},
        headers=monitoring.headers(partner_id),
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert len(await monitoring.events(partner_id, "monitoring.alert.resolved")) == 1
    got = await monitoring.http.get(f"{URL}/{alert_id}", headers=monitoring.headers(partner_id))
    assert got.json()["resolution"] == "false_positive"


async def test_bad_resolutions_are_problem_json_and_change_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)
    headers = monitoring.headers(partner_id)
    for body in (
        {"resolution": "maybe", "actor": "x"},
        {"resolution": "confirmed"},
        {"resolution": "confirmed", "actor": ""},
        {"resolution": "confirmed", "actor": "x", "note": "n" * 1001},
        {"resolution": "confirmed", "actor": "x", "extra": True},
    ):
        response = await monitoring.http.post(
            f"{URL}/{alert_id}/resolve", json=body, headers=headers
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    got = await monitoring.http.get(f"{URL}/{alert_id}", headers=headers)
    assert got.json()["status"] == "open"
    assert await monitoring.events(partner_id, "monitoring.alert.resolved") == []


async def test_another_partners_alert_is_not_found_and_not_listed(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)
    other = monitoring.headers(uuid.uuid4())

    got = await monitoring.http.get(f"{URL}/{alert_id}", headers=other)
    acked = await monitoring.http.post(
        f"{URL}/{alert_id}/acknowledge", json={"actor": "x"}, headers=other
    )
    resolved = await monitoring.http.post(
        f"{URL}/{alert_id}/resolve", json={"resolution": "confirmed", "actor": "x"}, headers=other
    )
    listed = await monitoring.http.get(URL, headers=other)
    precision = await monitoring.http.get(f"{URL}/precision", headers=other)

    assert got.status_code == acked.status_code == resolved.status_code == 404
    assert got.headers["content-type"] == "application/problem+json"
    assert listed.json()["items"] == []
    assert precision.json()["detectors"] == []
    mine = await monitoring.http.get(f"{URL}/{alert_id}", headers=monitoring.headers(partner_id))
    assert mine.json()["status"] == "open"


async def test_reading_needs_read_scope_and_closing_needs_write_scope(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alert_id = await plant(monitoring, partner_id)
    read_only = monitoring.headers(partner_id, scopes=["monitoring:read"])
    other_service = monitoring.headers(partner_id, scopes=["billing:read", "billing:write"])

    acked = await monitoring.http.post(
        f"{URL}/{alert_id}/acknowledge", json={"actor": "x"}, headers=read_only
    )
    resolved = await monitoring.http.post(
        f"{URL}/{alert_id}/resolve",
        json={"resolution": "confirmed", "actor": "x"},
        headers=read_only,
    )
    assert acked.status_code == resolved.status_code == 403
    for path in (URL, f"{URL}/{alert_id}", f"{URL}/precision"):
        response = await monitoring.http.get(path, headers=other_service)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
    assert (await monitoring.http.get(f"{URL}/{alert_id}", headers=read_only)).status_code == 200


async def test_precision_per_detector_from_the_resolutions(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    daily = [await plant(monitoring, partner_id, rule="daily") for _ in range(6)]
    for alert_id in daily[:3]:
        await resolve(monitoring, partner_id, alert_id, "confirmed")
    await resolve(monitoring, partner_id, daily[3], "false_positive")
    await acknowledge(monitoring, partner_id, daily[4])  # still unresolved, like daily[5]
    hourly = await plant(monitoring, partner_id, rule="hourly")
    await resolve(monitoring, partner_id, hourly, "false_positive")
    for _ in range(2):
        await plant(monitoring, partner_id, kind=AlertKind.CRYPTO_MINING, rule=None)
    mfa = await plant(monitoring, partner_id, kind=AlertKind.ACTIVITY_RULE, rule="mfa_disabled")
    await resolve(monitoring, partner_id, mfa, "confirmed")

    response = await monitoring.http.get(f"{URL}/precision", headers=monitoring.headers(partner_id))

    assert response.status_code == 200, response.text
    rows = {(d["kind"], d["rule"]): d for d in response.json()["detectors"]}
    assert set(rows) == {
        ("spend_anomaly", "daily"),
        ("spend_anomaly", "hourly"),
        ("crypto_mining", None),
        ("activity_rule", "mfa_disabled"),
    }
    counts = {
        key: (d["confirmed"], d["false_positive"], d["open"], d["precision"])
        for key, d in rows.items()
    }
    assert counts[("spend_anomaly", "daily")] == (3, 1, 2, 0.75)
    assert counts[("spend_anomaly", "hourly")] == (0, 1, 0, 0.0)
    assert counts[("crypto_mining", None)] == (0, 0, 2, None)
    assert counts[("activity_rule", "mfa_disabled")] == (1, 0, 0, 1.0)


async def test_precision_counts_only_alerts_raised_in_the_window(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    before = await plant(monitoring, partner_id, raised_at=T0 - timedelta(days=1))
    inside = await plant(monitoring, partner_id, raised_at=T0)
    after = await plant(monitoring, partner_id, raised_at=T0 + timedelta(days=7))
    await resolve(monitoring, partner_id, before, "false_positive")
    await resolve(monitoring, partner_id, inside, "confirmed")
    await resolve(monitoring, partner_id, after, "false_positive")
    headers = monitoring.headers(partner_id)
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(days=7)).isoformat()}

    response = await monitoring.http.get(f"{URL}/precision", params=window, headers=headers)

    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["from"]) == T0
    (row,) = response.json()["detectors"]
    assert (row["confirmed"], row["false_positive"], row["precision"]) == (1, 0, 1.0)
    everything = await monitoring.http.get(f"{URL}/precision", headers=headers)
    (whole,) = everything.json()["detectors"]
    assert (whole["confirmed"], whole["false_positive"]) == (1, 2)
    backwards = await monitoring.http.get(
        f"{URL}/precision", params={"from": window["to"], "to": window["from"]}, headers=headers
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"


async def test_an_unknown_alert_is_not_found(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id)
    got = await monitoring.http.get(f"{URL}/{uuid.uuid4()}", headers=headers)
    malformed = await monitoring.http.get(f"{URL}/not-an-id", headers=headers)
    assert got.status_code == 404
    assert malformed.status_code == 422
