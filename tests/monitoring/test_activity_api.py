"""Activity logs over HTTP: batches stored once, bad entries refused one by one, listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.ids import new_id
from partnerguard.monitoring.activity.service import decode_cursor, encode_cursor
from tests.support.monitoring import RunningMonitoring
from tests.support.monitoring_activity import (
    activity_entry,
    alerts_of,
    post_activity,
    register_customer,
    stored_entries,
)

URL = "/v1/monitoring/activity-logs"


# An hour ago, fixed once: entries built at different moments of a test share one clock.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def recent(minutes: int = 0) -> datetime:
    return BASE + timedelta(minutes=minutes)


async def test_a_batch_is_stored_and_listed_newest_first(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    entries = [
        activity_entry(customer, recent(i), entry_id=f"e-{i}", ip="203.0.113.7") for i in range(3)
    ]
    answer = await post_activity(monitoring, partner_id, entries)
    assert answer == {"accepted": 3, "duplicates": 0, "rejected": [], "alerts": []}

    listed = await monitoring.http.get(URL, headers=monitoring.headers(partner_id))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["entry_id"] for item in items] == ["e-2", "e-1", "e-0"]
    assert items[0]["customer_id"] == str(customer)
    assert items[0]["ip"] == "203.0.113.7"
    assert items[0]["country"] == "FR"
    assert items[0]["result"] == "success"
    assert listed.json()["next_cursor"] is None


async def test_a_resent_batch_counts_as_duplicates_and_is_stored_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    entries = [activity_entry(customer, recent(i)) for i in range(4)]
    await post_activity(monitoring, partner_id, entries)
    again = await post_activity(monitoring, partner_id, [*entries, entries[0]])
    assert again == {"accepted": 0, "duplicates": 5, "rejected": [], "alerts": []}
    assert await stored_entries(monitoring.db, partner_id) == 4


async def test_bad_entries_are_refused_with_reasons_and_good_ones_kept(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    good = activity_entry(customer, recent(1), entry_id="good")
    bad_ip = activity_entry(customer, recent(2), entry_id="bad-ip", ip="999.1.1.1")
    bad_country = activity_entry(customer, recent(3), entry_id="bad-country", country="fr")
    unknown_country = activity_entry(customer, recent(3), entry_id="zz", country="ZZ")
    future = activity_entry(customer, datetime.now(UTC) + timedelta(minutes=30), entry_id="future")
    naive = activity_entry(customer, recent(4), entry_id="naive")
    naive["occurred_at"] = "2026-01-01T10:00:00"
    no_customer = activity_entry(None, recent(5), entry_id="nobody")
    bad_result = activity_entry(customer, recent(6), entry_id="maybe", result="maybe")
    not_an_object = 42
    answer = await post_activity(
        monitoring,
        partner_id,
        [good, bad_ip, bad_country, unknown_country, future, naive, no_customer, bad_result,
         not_an_object],
    )  # fmt: skip

    assert answer["accepted"] == 1
    assert answer["duplicates"] == 0
    rejected = {r["index"]: r for r in answer["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert rejected[1]["entry_id"] == "bad-ip"
    assert rejected[1]["errors"][0]["loc"] == ["ip"]
    assert rejected[2]["errors"][0]["loc"] == ["country"]
    assert "ISO 3166-1" in rejected[3]["errors"][0]["msg"]
    assert "future" in rejected[4]["errors"][0]["msg"]
    assert rejected[5]["errors"][0]["loc"] == ["occurred_at"]
    assert rejected[6]["errors"][0]["loc"] == ["customer_id"]
    assert "exactly one of customer_id and vendor_tenant_id" in rejected[6]["errors"][0]["msg"]
    assert rejected[7]["errors"][0]["loc"] == ["result"]
    assert rejected[8]["entry_id"] is None
    assert await stored_entries(monitoring.db, partner_id) == 1


async def test_an_entry_names_its_customer_by_vendor_tenant(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer, tenant = new_id(), uuid.uuid4()
    await register_customer(monitoring.db, partner_id, customer, tenant)
    by_tenant = activity_entry(None, recent(1), entry_id="t", vendor_tenant_id=str(tenant))
    unknown = activity_entry(None, recent(2), entry_id="u", vendor_tenant_id=str(uuid.uuid4()))
    both = activity_entry(customer, recent(3), entry_id="b", vendor_tenant_id=str(tenant))
    answer = await post_activity(monitoring, partner_id, [by_tenant, unknown, both])

    assert answer["accepted"] == 1
    assert [(r["index"], r["entry_id"], r["errors"][0]["type"]) for r in answer["rejected"]] == [
        (1, "u", "unknown_tenant"),
        (2, "b", "exactly_one_customer"),
    ]
    listed = await monitoring.http.get(URL, headers=monitoring.headers(partner_id))
    assert [(i["entry_id"], i["customer_id"]) for i in listed.json()["items"]] == [
        ("t", str(customer))
    ]


async def test_the_documented_body_is_the_batch_of_entries(monitoring: RunningMonitoring) -> None:
    spec = (await monitoring.http.get("/openapi.json")).json()
    body = spec["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    entries = schema["properties"]["entries"]
    assert entries["minItems"] == 1
    assert set(entries["items"]["required"]) == {
        "entry_id", "actor", "operation", "result", "occurred_at"
    }  # fmt: skip
    assert entries["items"]["properties"]["result"]["enum"] == ["success", "failure"]


async def test_another_partners_tenant_is_unknown(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    other, tenant = uuid.uuid4(), uuid.uuid4()
    await register_customer(monitoring.db, other, new_id(), tenant)
    answer = await post_activity(
        monitoring, partner_id, [activity_entry(None, recent(), vendor_tenant_id=str(tenant))]
    )
    assert answer["accepted"] == 0
    assert answer["rejected"][0]["errors"][0]["type"] == "unknown_tenant"


async def test_a_body_that_is_not_a_batch_is_a_problem_and_stores_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id)
    limit = monitoring.settings.activity_batch_max
    too_many = [activity_entry(new_id(), recent(), entry_id=str(i)) for i in range(limit + 1)]
    bodies: list[dict[str, Any]] = [
        {"content": b"not json", "headers": {**headers, "Content-Type": "application/json"}},
        {"json": {"records": [activity_entry(new_id(), recent())]}, "headers": headers},
        {"json": {"entries": {"entry_id": "x"}}, "headers": headers},
        {"json": {"entries": []}, "headers": headers},
        {"json": [activity_entry(new_id(), recent())], "headers": headers},
        {"json": {"entries": too_many}, "headers": headers},
    ]
    for body in bodies:
        response = await monitoring.http.post(URL, **body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await stored_entries(monitoring.db, partner_id) == 0
    assert await monitoring.events(partner_id) == []


async def test_listing_filters_by_customer_actor_and_time(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    alpha, beta = new_id(), new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(alpha, recent(1), entry_id="a1", actor="ann@alpha.example"),
            activity_entry(alpha, recent(2), entry_id="a2", actor="bob@alpha.example"),
            activity_entry(alpha, recent(3), entry_id="a3", actor="ann@alpha.example"),
            activity_entry(beta, recent(4), entry_id="b1", actor="ann@alpha.example"),
        ],
    )

    async def ids(**params: str) -> list[str]:
        response = await monitoring.http.get(
            URL, params=params, headers=monitoring.headers(partner_id)
        )
        assert response.status_code == 200, response.text
        return [item["entry_id"] for item in response.json()["items"]]

    assert await ids(customer_id=str(alpha)) == ["a3", "a2", "a1"]
    assert await ids(customer_id=str(alpha), actor="ann@alpha.example") == ["a3", "a1"]
    window = {"from": recent(2).isoformat(), "to": recent(4).isoformat()}
    assert await ids(**window) == ["a3", "a2"]


async def test_listing_pages_through_every_entry_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    same_time = recent()
    # Entries at one instant are ordered by id, so pages neither skip nor repeat them.
    entries = [activity_entry(customer, same_time, entry_id=f"x-{i:02}") for i in range(7)]
    entries += [activity_entry(customer, recent(5), entry_id="later")]
    await post_activity(monitoring, partner_id, entries)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = await monitoring.http.get(
            URL, params=params, headers=monitoring.headers(partner_id)
        )
        assert response.status_code == 200, response.text
        seen += [item["entry_id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["later", *[f"x-{i:02}" for i in reversed(range(7))]]


async def test_listing_refuses_a_forged_cursor_and_an_empty_window(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id)
    forged = await monitoring.http.get(URL, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=headers)
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "application/problem+json"
    at = recent().isoformat()
    empty = await monitoring.http.get(URL, params={"from": at, "to": at}, headers=headers)
    assert empty.status_code == 422
    naive = await monitoring.http.get(URL, params={"from": "2026-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422


async def test_another_partner_cannot_list_the_entries(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(monitoring, partner_id, [activity_entry(customer, recent())])
    other = uuid.uuid4()
    response = await monitoring.http.get(
        URL, params={"customer_id": str(customer)}, headers=monitoring.headers(other)
    )
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_the_same_entry_id_is_separate_for_two_partners(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    entry = activity_entry(new_id(), recent(), entry_id="shared-id")
    await post_activity(monitoring, partner_id, [entry])
    answer = await post_activity(monitoring, other, [entry])
    assert answer["accepted"] == 1
    assert answer["duplicates"] == 0


async def test_scopes_are_required(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> None:
    read_only = monitoring.headers(partner_id, scopes=["monitoring:read"])
    write_only = monitoring.headers(partner_id, scopes=["monitoring:write"])
    body = {"entries": [activity_entry(new_id(), recent())]}
    posted = await monitoring.http.post(URL, json=body, headers=read_only)
    assert posted.status_code == 403
    assert posted.headers["content-type"] == "application/problem+json"
    listed = await monitoring.http.get(URL, headers=write_only)
    assert listed.status_code == 403
    anonymous = await monitoring.http.get(URL)
    assert anonymous.status_code == 401
    assert await stored_entries(monitoring.db, partner_id) == 0
    assert await alerts_of(monitoring.db, partner_id) == []


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.text(min_size=1, max_size=200),
)
def test_a_cursor_brings_back_the_key_it_was_made_from(at: datetime, entry_id: str) -> None:
    assert decode_cursor(encode_cursor(at, entry_id)) == (at, entry_id)
