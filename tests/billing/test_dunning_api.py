"""Dunning over HTTP: the policy and its versions, runs on demand, actions and notices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from partnerguard.billing.dunning.jobs import NOTICE_JOB, SWEEP_JOB, dunning_jobs
from tests.support.billing import RunningBilling
from tests.support.billing_data import add_account, add_invoice

POLICY = "/v1/billing/dunning-policy"
RUNS = "/v1/billing/dunning/runs"
ACTIONS = "/v1/billing/dunning/actions"
NOTICES = "/v1/billing/dunning/notices"
READ_ONLY = ("billing:read",)

TODAY = datetime.now(UTC).date()
GOOD_POLICY: dict[str, Any] = {
    "steps": [
        {"step": "reminder", "day_offset": 3},
        {"step": "final_notice", "day_offset": 10},
        {"step": "suspension_request", "day_offset": 21},
    ],
    "minimum_amount": 500,
}


async def overdue_invoice(billing: RunningBilling, partner_id: uuid.UUID, days: int) -> Any:
    account = await add_account(billing.db, partner_id)
    return await add_invoice(billing.db, account, due_on=TODAY - timedelta(days=days))


async def test_partner_without_a_policy_gets_the_default(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    response = await billing.http.get(POLICY, headers=billing.headers(partner_id))

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 0
    assert body["is_default"] is True
    assert body["minimum_amount"] == 0
    assert [(s["step"], s["day_offset"]) for s in body["steps"]] == [
        ("reminder", 1),
        ("warning", 7),
        ("final_notice", 14),
        ("suspension_request", 30),
        ("termination_request", 60),
    ]


async def test_saving_a_policy_makes_a_new_version_in_force(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    first = await billing.http.put(POLICY, json=GOOD_POLICY, headers=billing.headers(partner_id))
    second = await billing.http.put(
        POLICY,
        json={"steps": [{"step": "warning", "day_offset": 5}]},
        headers=billing.headers(partner_id),
    )

    assert first.status_code == 200, first.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    current = (await billing.http.get(POLICY, headers=billing.headers(partner_id))).json()
    assert current["version"] == 2
    assert current["is_default"] is False
    assert current["steps"] == [{"step": "warning", "day_offset": 5}]
    assert current["minimum_amount"] == 0
    assert current["created_by"]


async def test_policy_versions_are_listed_newest_first_in_pages(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    for offset in (1, 2, 3):
        body = {"steps": [{"step": "reminder", "day_offset": offset}]}
        response = await billing.http.put(POLICY, json=body, headers=billing.headers(partner_id))
        assert response.status_code == 200

    page = await billing.http.get(
        f"{POLICY}/versions", params={"limit": 2}, headers=billing.headers(partner_id)
    )
    rest = await billing.http.get(
        f"{POLICY}/versions",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=billing.headers(partner_id),
    )

    assert [v["version"] for v in page.json()["items"]] == [3, 2]
    assert [v["version"] for v in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None


BAD_POLICIES: list[dict[str, Any]] = [
    {"steps": []},
    {"steps": [{"step": "warning", "day_offset": 7}, {"step": "reminder", "day_offset": 1}]},
    {"steps": [{"step": "reminder", "day_offset": 7}, {"step": "warning", "day_offset": 7}]},
    {"steps": [{"step": "reminder", "day_offset": 1}, {"step": "reminder", "day_offset": 2}]},
    {"steps": [{"step": "reminder", "day_offset": 0}]},
    {"steps": [{"step": "reminder", "day_offset": 1.5}]},
    {"steps": [{"step": "scold", "day_offset": 1}]},
    {"steps": [{"step": "reminder", "day_offset": 1}], "minimum_amount": -1},
    {"steps": [{"step": "reminder", "day_offset": 1}], "extra": True},
    {"minimum_amount": 0},
]


async def test_bad_policy_is_problem_json_and_stores_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    for body in BAD_POLICIES:
        response = await billing.http.put(POLICY, json=body, headers=billing.headers(partner_id))

        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"], body
    versions = await billing.http.get(f"{POLICY}/versions", headers=billing.headers(partner_id))
    assert versions.json()["items"] == []
    current = await billing.http.get(POLICY, headers=billing.headers(partner_id))
    assert current.json()["version"] == 0


async def test_policy_needs_read_scope_to_see_and_write_scope_to_change(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    no_scope = billing.headers(partner_id, scopes=())
    assert (await billing.http.get(POLICY, headers=no_scope)).status_code == 403
    put = await billing.http.put(
        POLICY, json=GOOD_POLICY, headers=billing.headers(partner_id, scopes=READ_ONLY)
    )
    assert put.status_code == 403
    assert put.headers["content-type"] == "application/problem+json"
    current = await billing.http.get(POLICY, headers=billing.headers(partner_id, READ_ONLY))
    assert current.json()["version"] == 0


async def test_another_partners_policy_is_not_seen(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    await billing.http.put(POLICY, json=GOOD_POLICY, headers=billing.headers(partner_id))
    other = uuid.uuid4()
    assert (await billing.http.get(POLICY, headers=billing.headers(other))).json()["version"] == 0
    versions = await billing.http.get(f"{POLICY}/versions", headers=billing.headers(other))
    assert versions.json()["items"] == []


async def test_run_on_demand_dunns_the_callers_overdue_invoices(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    invoice = await overdue_invoice(billing, partner_id, days=8)
    not_due = await overdue_invoice(billing, partner_id, days=0)
    others = await overdue_invoice(billing, uuid.uuid4(), days=8)

    response = await billing.http.post(RUNS, json={}, headers=billing.headers(partner_id))

    assert response.status_code == 201, response.text
    run = response.json()
    assert run["as_of"] == TODAY.isoformat()
    assert run["trigger"] == "api"
    assert run["steps_executed"] == 2
    assert run["steps"] == {"reminder": 1, "warning": 1}
    assert run["invoices_examined"] == 1
    assert run["accounts_made_delinquent"] == 0
    assert run["finished_at"] is not None
    assert run["error"] is None
    actions = await billing.http.get(
        ACTIONS, params={"invoice_id": str(invoice.id)}, headers=billing.headers(partner_id)
    )
    assert [(a["step"], a["days_overdue"], a["run_id"]) for a in actions.json()["items"]] == [
        ("reminder", 8, run["id"]),
        ("warning", 8, run["id"]),
    ]
    assert actions.json()["items"][0]["balance"] == {"amount": 10_000, "currency": "USD"}
    for untouched in (not_due, others):
        listed = await billing.http.get(
            ACTIONS, params={"invoice_id": str(untouched.id)}, headers=billing.headers(partner_id)
        )
        assert listed.json()["items"] == []
    events = await billing.events(partner_id, "billing.dunning.step_executed")
    assert [e["data"]["step"] for e in events] == ["reminder", "warning"]


async def test_catch_up_run_for_a_past_date_then_today_does_each_step_once(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    invoice = await overdue_invoice(billing, partner_id, days=20)
    headers = billing.headers(partner_id)

    past = await billing.http.post(
        RUNS, json={"as_of": (TODAY - timedelta(days=12)).isoformat()}, headers=headers
    )
    today = await billing.http.post(RUNS, json={"as_of": TODAY.isoformat()}, headers=headers)
    again = await billing.http.post(RUNS, json={}, headers=headers)

    assert past.json()["steps"] == {"reminder": 1, "warning": 1}
    assert today.json()["steps"] == {"final_notice": 1}
    assert again.json()["steps_executed"] == 0
    actions = await billing.http.get(
        ACTIONS, params={"invoice_id": str(invoice.id)}, headers=headers
    )
    assert [a["step"] for a in actions.json()["items"]] == ["reminder", "warning", "final_notice"]


async def test_bad_run_request_is_problem_json_and_runs_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    await overdue_invoice(billing, partner_id, days=8)

    for body in [
        {"as_of": (TODAY + timedelta(days=1)).isoformat()},
        {"as_of": "2026-02-30"},
        {"as_of": "yesterday"},
        {"as_of": TODAY.isoformat(), "partner_id": str(uuid.uuid4())},
    ]:
        response = await billing.http.post(RUNS, json=body, headers=billing.headers(partner_id))

        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    runs = await billing.http.get(RUNS, headers=billing.headers(partner_id))
    assert runs.json()["items"] == []
    assert await billing.events(partner_id) == []


async def test_run_needs_the_write_scope(billing: RunningBilling, partner_id: uuid.UUID) -> None:
    await overdue_invoice(billing, partner_id, days=8)

    response = await billing.http.post(
        RUNS, json={}, headers=billing.headers(partner_id, scopes=READ_ONLY)
    )

    assert response.status_code == 403
    assert (await billing.http.get(RUNS, headers=billing.headers(partner_id))).json()["items"] == []
    assert await billing.events(partner_id) == []


async def test_run_with_an_idempotency_key_is_replayed_not_rerun(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    await overdue_invoice(billing, partner_id, days=8)
    headers = billing.headers(partner_id, **{"Idempotency-Key": "run-1"})

    first = await billing.http.post(RUNS, json={}, headers=headers)
    second = await billing.http.post(RUNS, json={}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    runs = await billing.http.get(RUNS, headers=billing.headers(partner_id))
    assert len(runs.json()["items"]) == 1


async def test_runs_are_listed_newest_first_and_read_one_by_one(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    await overdue_invoice(billing, partner_id, days=8)
    headers = billing.headers(partner_id)
    ids = []
    for as_of in (TODAY - timedelta(days=5), TODAY):
        response = await billing.http.post(RUNS, json={"as_of": as_of.isoformat()}, headers=headers)
        ids.append(response.json()["id"])

    listed = await billing.http.get(RUNS, params={"limit": 1}, headers=headers)
    rest = await billing.http.get(
        RUNS, params={"limit": 1, "cursor": listed.json()["next_cursor"]}, headers=headers
    )
    one = await billing.http.get(f"{RUNS}/{ids[0]}", headers=headers)

    assert [r["id"] for r in listed.json()["items"]] == [ids[1]]
    assert [r["id"] for r in rest.json()["items"]] == [ids[0]]
    assert one.status_code == 200
    assert one.json()["steps"] == {"reminder": 1}
    assert one.json()["as_of"] == (TODAY - timedelta(days=5)).isoformat()


async def test_another_partners_runs_actions_and_notices_are_not_found_nor_listed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    invoice = await overdue_invoice(billing, partner_id, days=8)
    run = (await billing.http.post(RUNS, json={}, headers=billing.headers(partner_id))).json()
    stranger = billing.headers(uuid.uuid4())

    missing = await billing.http.get(f"{RUNS}/{run['id']}", headers=stranger)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await billing.http.get(f"{RUNS}/{uuid.uuid4()}", headers=stranger)).status_code == 404
    assert (await billing.http.get(RUNS, headers=stranger)).json()["items"] == []
    for params in ({}, {"invoice_id": str(invoice.id)}, {"account_id": str(invoice.account_id)}):
        assert (await billing.http.get(ACTIONS, params=params, headers=stranger)).json()[
            "items"
        ] == []
    assert (await billing.http.get(NOTICES, headers=stranger)).json()["items"] == []


async def test_actions_filter_by_account_and_reads_need_the_read_scope(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    first = await overdue_invoice(billing, partner_id, days=1)
    second = await overdue_invoice(billing, partner_id, days=1)
    await billing.http.post(RUNS, json={}, headers=billing.headers(partner_id))

    listed = await billing.http.get(
        ACTIONS, params={"account_id": str(second.account_id)}, headers=billing.headers(partner_id)
    )

    assert [a["invoice_id"] for a in listed.json()["items"]] == [str(second.id)]
    assert first.id != second.id
    no_scope = billing.headers(partner_id, scopes=())
    for path in (RUNS, ACTIONS, NOTICES, f"{POLICY}/versions"):
        assert (await billing.http.get(path, headers=no_scope)).status_code == 403


async def test_notices_of_a_run_are_listed_with_their_delivery_state(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await add_account(billing.db, partner_id, billing_email=None)
    invoice = await add_invoice(billing.db, account, due_on=TODAY - timedelta(days=2))
    await billing.http.post(RUNS, json={}, headers=billing.headers(partner_id))

    listed = await billing.http.get(
        NOTICES, params={"account_id": str(account.id)}, headers=billing.headers(partner_id)
    )

    (notice,) = listed.json()["items"]
    assert notice["status"] == "no_recipient"
    assert notice["step"] == "reminder"
    assert notice["invoice_ids"] == [str(invoice.id)]
    assert notice["amount_overdue"] == {"amount": 10_000, "currency": "USD"}
    pending = await billing.http.get(
        NOTICES, params={"status": "pending"}, headers=billing.headers(partner_id)
    )
    assert pending.json()["items"] == []


async def test_scheduled_sweep_job_dunns_every_partner_as_of_today(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    mine = await overdue_invoice(billing, partner_id, days=1)
    theirs = await overdue_invoice(billing, other, days=1)
    jobs = {job.name: job for job in dunning_jobs(billing.settings)}
    assert jobs[SWEEP_JOB].singleton
    assert not jobs[NOTICE_JOB].singleton
    assert jobs[SWEEP_JOB].interval == billing.settings.dunning_interval_seconds

    await jobs[SWEEP_JOB].run(billing.runtime)

    for partner, invoice in ((partner_id, mine), (other, theirs)):
        runs = (await billing.http.get(RUNS, headers=billing.headers(partner))).json()["items"]
        assert [(r["trigger"], r["as_of"], r["steps_executed"]) for r in runs] == [
            ("schedule", TODAY.isoformat(), 1)
        ]
        actions = await billing.http.get(
            ACTIONS, params={"invoice_id": str(invoice.id)}, headers=billing.headers(partner)
        )
        assert [a["step"] for a in actions.json()["items"]] == ["reminder"]
