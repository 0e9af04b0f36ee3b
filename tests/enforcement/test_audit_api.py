"""The audit API: read the log newest first, and verify its chain finds tampering."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from partnerguard.cli.embedded import EmbeddedPostgres
from partnerguard.enforcement.audit.log import record
from tests.support.enforcement import RunningEnforcement, audit_log

AUDIT = "/v1/enforcement/audit"


async def write_entries(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, count: int, subject: str = "s"
) -> None:
    async with enforcement.db.tenant_session(partner_id) as session:
        for n in range(count):
            await record(
                session,
                partner_id,
                actor="tester",
                action=f"test.action{n + 1}",
                subject_type="thing",
                subject_id=f"{subject}{n % 2}",
                at=datetime.now(UTC),
                reason=f"reason {n + 1}",
                evidence={"n": n + 1, "tags": ["a", "b"]},
            )
    # As the chaining job would soon after: tampering is with chained entries.
    await audit_log(enforcement.db, partner_id)


async def verify(enforcement: RunningEnforcement, partner_id: uuid.UUID) -> dict[str, Any]:
    response = await enforcement.http.post(
        f"{AUDIT}/verify", headers=enforcement.headers(partner_id, scopes=["enforcement:read"])
    )
    assert response.status_code == 200
    return dict(response.json())


async def as_superuser(pg: EmbeddedPostgres, enforcement: RunningEnforcement) -> asyncpg.Connection:
    """A superuser connection to this test's database, with triggers off (replica role)."""
    database = enforcement.db.engine.url.database
    assert database is not None
    conn = await asyncpg.connect(pg.url_for(database))
    await conn.execute("SET session_replication_role = replica")
    return conn


async def test_the_log_reads_newest_first_in_pages(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await write_entries(enforcement, partner_id, 5)
    headers = enforcement.headers(partner_id)
    first = await enforcement.http.get(AUDIT, params={"limit": 2}, headers=headers)
    assert first.status_code == 200
    assert [e["seq"] for e in first.json()["items"]] == [5, 4]
    entry = first.json()["items"][0]
    assert entry["action"] == "test.action5"
    assert entry["evidence"] == {"n": 5, "tags": ["a", "b"]}
    assert len(entry["hash"]) == 64
    seqs = [5, 4]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = await enforcement.http.get(
            AUDIT, params={"limit": 2, "cursor": cursor}, headers=headers
        )
        seqs += [e["seq"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seqs == [5, 4, 3, 2, 1]


async def test_the_log_filters_by_subject(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await write_entries(enforcement, partner_id, 5)
    response = await enforcement.http.get(
        AUDIT, params={"subject_type": "thing", "subject_id": "s1"},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert [e["seq"] for e in response.json()["items"]] == [4, 2]
    none = await enforcement.http.get(
        AUDIT, params={"subject_type": "case"}, headers=enforcement.headers(partner_id)
    )
    assert none.json()["items"] == []


async def test_a_bad_cursor_is_a_bad_request(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    for cursor in ["garbage!", "eyJhZnRlciI6IDF9", "eyJiZWZvcmVfc2VxIjogLTF9"]:
        response = await enforcement.http.get(
            AUDIT, params={"cursor": cursor}, headers=enforcement.headers(partner_id)
        )
        assert response.status_code == 400, cursor
        assert response.headers["content-type"] == "application/problem+json"


async def test_another_partners_entries_are_not_listed_nor_verified(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    await write_entries(enforcement, other, 3)
    listed = await enforcement.http.get(AUDIT, headers=enforcement.headers(partner_id))
    assert listed.json()["items"] == []
    assert await verify(enforcement, partner_id) == {
        "intact": True, "entries": 0, "first_broken_seq": None, "problem": None,
    }  # fmt: skip


async def test_reading_and_verifying_need_the_read_scope(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    headers = enforcement.headers(partner_id, scopes=["enforcement:write"])
    assert (await enforcement.http.get(AUDIT, headers=headers)).status_code == 403
    assert (await enforcement.http.post(f"{AUDIT}/verify", headers=headers)).status_code == 403


async def test_an_untouched_log_verifies_intact(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await write_entries(enforcement, partner_id, 4)
    # An action through the API joins the same chain.
    response = await enforcement.http.post(
        "/v1/enforcement/access-grants",
        json={"customer_id": str(uuid.uuid4()), "requested_by": "x"},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 404
    assert await verify(enforcement, partner_id) == {
        "intact": True, "entries": 4, "first_broken_seq": None, "problem": None,
    }  # fmt: skip


async def test_a_changed_entry_is_detected(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, pg: EmbeddedPostgres
) -> None:
    await write_entries(enforcement, partner_id, 4)
    conn = await as_superuser(pg, enforcement)
    try:
        status = await conn.execute(
            "UPDATE audit_log SET reason = 'nothing happened' WHERE partner_id = $1 AND seq = 2",
            partner_id,
        )
        assert status == "UPDATE 1"
    finally:
        await conn.close()

    result = await verify(enforcement, partner_id)

    assert result["intact"] is False
    assert result["first_broken_seq"] == 2
    assert result["problem"] == "the entry's content was changed"


async def test_changed_evidence_of_the_newest_entry_is_detected(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, pg: EmbeddedPostgres
) -> None:
    await write_entries(enforcement, partner_id, 3)
    conn = await as_superuser(pg, enforcement)
    try:
        await conn.execute(
            "UPDATE audit_log SET evidence = '{\"n\": 99}'::jsonb WHERE partner_id = $1 AND seq = 3",
            partner_id,
        )
    finally:
        await conn.close()
    result = await verify(enforcement, partner_id)
    assert (result["intact"], result["first_broken_seq"]) == (False, 3)


async def test_a_deleted_entry_is_detected(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, pg: EmbeddedPostgres
) -> None:
    await write_entries(enforcement, partner_id, 4)
    conn = await as_superuser(pg, enforcement)
    try:
        status = await conn.execute(
            "DELETE FROM audit_log WHERE partner_id = $1 AND seq = 2", partner_id
        )
        assert status == "DELETE 1"
    finally:
        await conn.close()

    result = await verify(enforcement, partner_id)

    assert result["intact"] is False
    assert result["first_broken_seq"] == 3
    assert result["problem"] == "entry 2 is missing"


async def test_the_app_role_cannot_change_or_delete_entries(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await write_entries(enforcement, partner_id, 2)
    for statement in [
        "UPDATE audit_log SET reason = 'x' WHERE partner_id = :p",
        "DELETE FROM audit_log WHERE partner_id = :p",
    ]:
        with pytest.raises(DBAPIError, match="append-only"):
            async with enforcement.db.tenant_session(partner_id) as session:
                await session.execute(text(statement), {"p": partner_id})
    assert (await verify(enforcement, partner_id))["entries"] == 2


async def test_entries_cut_from_the_end_are_detected(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, pg: EmbeddedPostgres
) -> None:
    await write_entries(enforcement, partner_id, 4)
    conn = await as_superuser(pg, enforcement)
    try:
        status = await conn.execute(
            "DELETE FROM audit_log WHERE partner_id = $1 AND seq >= 3", partner_id
        )
        assert status == "DELETE 2"
    finally:
        await conn.close()

    assert await verify(enforcement, partner_id) == {
        "intact": False, "entries": 2, "first_broken_seq": 3,
        "problem": "entries 3 to 4 are missing",
    }  # fmt: skip


async def test_the_app_role_cannot_move_a_chains_head_back_nor_remove_it(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    await write_entries(enforcement, partner_id, 3)
    for statement in [
        "UPDATE audit_heads SET seq = 1 WHERE partner_id = :p",
        "DELETE FROM audit_heads WHERE partner_id = :p",
    ]:
        with pytest.raises(DBAPIError, match="only moves forward"):
            async with enforcement.db.tenant_session(partner_id) as session:
                await session.execute(text(statement), {"p": partner_id})
    assert (await verify(enforcement, partner_id))["intact"] is True


async def test_concurrent_writers_of_one_partner_build_one_unbroken_chain(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    """Writers only record; the chain is built after they commit, and keeps each
    transaction's entries in the order they were recorded."""

    async def writer(n: int) -> None:
        async with enforcement.db.tenant_session(partner_id) as session:
            for step in ("first", "second"):
                await record(
                    session,
                    partner_id,
                    actor=f"writer{n}",
                    action=f"test.{step}",
                    subject_type="thing",
                    subject_id=str(n),
                    at=datetime.now(UTC),
                )
                await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(12)))

    result = await verify(enforcement, partner_id)
    assert result["intact"] is True
    assert result["entries"] == 24
    page = await enforcement.http.get(
        f"{AUDIT}?limit=100", headers=enforcement.headers(partner_id, scopes=["enforcement:read"])
    )
    entries = sorted(page.json()["items"], key=lambda e: e["seq"])
    assert [e["seq"] for e in entries] == list(range(1, 25))
    for n in range(12):
        steps = [e["action"] for e in entries if e["actor"] == f"writer{n}"]
        assert steps == ["test.first", "test.second"]


async def test_an_action_that_rolls_back_leaves_no_audit_entry(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    async def failing_action() -> None:
        async with enforcement.db.tenant_session(partner_id) as session:
            await record(
                session,
                partner_id,
                actor="tester",
                action="test.failed",
                subject_type="thing",
                subject_id="x",
                at=datetime.now(UTC),
            )
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError, match="the action failed"):
        await failing_action()

    assert (await verify(enforcement, partner_id))["entries"] == 0
