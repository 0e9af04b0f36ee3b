"""Allow and block lists: entries over HTTP (validation, canonical forms, isolation) and the
scorer's one-query lookup, ``find_hits``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database
from partnerguard.onboarding.applications.repository import ApplicationRepository
from partnerguard.onboarding.lists.service import ListCandidates, hit_lookup, list_hits
from partnerguard.onboarding.models import ListEntry
from partnerguard.onboarding.scoring.facts import ListHit, ListKind, ListName
from tests.support.onboarding import RunningOnboarding

ENTRIES = "/v1/onboarding/lists/entries"
PROBLEM_JSON = "application/problem+json"


def entry_body(kind: str, value: str, list_name: str = "block", **extra: Any) -> dict[str, Any]:
    return {"list": list_name, "kind": kind, "value": value, "reason": "test case", **extra}


async def add(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await onboarding.http.post(
        ENTRIES, json=body, headers=onboarding.headers(partner_id, **headers)
    )


async def add_ok(
    onboarding: RunningOnboarding,
    partner_id: uuid.UUID,
    kind: str,
    value: str,
    list_name: str = "block",
    **extra: Any,
) -> dict[str, Any]:
    response = await add(onboarding, partner_id, entry_body(kind, value, list_name, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, **params: str
) -> list[dict[str, Any]]:
    response = await onboarding.http.get(
        ENTRIES, params=params, headers=onboarding.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def candidates(**values: Any) -> ListCandidates:
    fields: dict[str, Any] = {
        "email": None,
        "email_domain": None,
        "company_domain": None,
        "ip": None,
        "device_id": None,
        "card_bin": None,
        "phone": None,
        "tenant_id": None,
    }
    fields.update(values)
    return ListCandidates(**fields)


async def hits(
    db: Database, partner_id: uuid.UUID, now: datetime | None = None, **values: Any
) -> tuple[ListHit, ...]:
    async with db.tenant_session(partner_id) as session:
        return await find_hits(session, partner_id, candidates(**values), now or datetime.now(UTC))


async def find_hits(
    session: AsyncSession, partner_id: uuid.UUID, candidates: ListCandidates, now: datetime
) -> tuple[ListHit, ...]:
    """The hits as the scorer reads them, with nothing else of the application to screen."""
    screening = await ApplicationRepository(session).screening(
        partner_id, {}, {}, hit_lookup(candidates), None, now
    )
    return list_hits(screening.hits)


async def hit_values(db: Database, partner_id: uuid.UUID, **values: Any) -> set[str]:
    return {hit.value for hit in await hits(db, partner_id, **values)}


async def insert_expired(db: Database, partner_id: uuid.UUID, kind: str, value: str) -> None:
    """An entry whose expiry has passed (the API refuses to create one)."""
    async with db.tenant_session(partner_id) as session:
        session.add(
            ListEntry(
                partner_id=partner_id,
                list="block",
                kind=kind,
                value=value,
                reason="expired",
                expires_at=datetime.now(UTC) - timedelta(minutes=1),
                created_by="test",
            )
        )


# --- validation and canonical forms ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        ("email", "  Fraud.Ring@Example.COM ", "fraud.ring@example.com"),
        ("domain", "Mail.Example.COM.", "mail.example.com"),
        ("domain", "bücher.example", "xn--bcher-kva.example"),
        ("ip", "203.0.113.7", "203.0.113.7"),
        ("ip", "203.0.113.7/32", "203.0.113.7"),
        ("ip", "203.0.113.0/24", "203.0.113.0/24"),
        ("ip", "2001:DB8:0:0::/32", "2001:db8::/32"),
        ("ip", "::ffff:203.0.113.7", "203.0.113.7"),
        ("device", "  dev-ABC-123 ", "dev-ABC-123"),
        ("bin", "457173", "457173"),
        ("bin", "45717360", "45717360"),
        ("phone", "+49 (30) 901-820", "+4930901820"),
        (
            "tenant",
            "{9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D}",
            "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
        ),
        ("tenant", "9B1DEB4D3B7D4BAD9BDD2B0D7B3DCB6D", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"),
    ],
)
async def test_an_entry_is_stored_in_its_canonical_form(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, kind: str, raw: str, canonical: str
) -> None:
    created = await add_ok(onboarding, partner_id, kind, raw)

    assert created["value"] == canonical
    assert created["kind"] == kind
    assert created["list"] == "block"
    assert created["reason"] == "test case"
    assert created["created_by"] == "client-1"
    fetched = await onboarding.http.get(
        f"{ENTRIES}/{created['id']}", headers=onboarding.headers(partner_id)
    )
    assert fetched.json() == created


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("email", "not-an-address"),
        ("email", "someone@localhost"),
        ("domain", "localhost"),
        ("domain", "exa mple.com"),
        ("domain", "-bad.example.com"),
        ("domain", "a..example.com"),
        ("domain", "203.0.113.7"),
        ("domain", "example\n.com"),
        ("ip", "300.1.1.1"),
        ("ip", "203.0.113.0/33"),
        ("ip", "0.0.0.0/0"),
        ("ip", "fe80::1%eth0"),
        ("ip", "example.com"),
        ("device", "   "),
        ("device", "d" * 201),
        ("device", "dev\x00ice"),
        ("bin", "45717"),
        ("bin", "457173601"),
        ("bin", "45717a"),
        ("phone", "4930901820"),
        ("phone", "+0930901820"),
        ("phone", "+4930"),
        ("tenant", "not-a-guid"),
    ],
)
async def test_a_value_invalid_for_its_kind_is_a_422_and_nothing_is_stored(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, kind: str, raw: str
) -> None:
    response = await add(onboarding, partner_id, entry_body(kind, raw))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422
    assert [error["loc"] for error in problem["errors"]] == [["body", "value"]]
    assert await listed(onboarding, partner_id, include_expired="true") == []


async def test_a_range_with_host_bits_set_is_refused_with_the_range_it_falls_in(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    response = await add(onboarding, partner_id, entry_body("ip", "203.0.113.7/24"))

    assert response.status_code == 422
    message = response.json()["errors"][0]["msg"]
    assert "host bits" in message
    assert "203.0.113.0/24" in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"list": "grey", "kind": "ip", "value": "203.0.113.7", "reason": "r"}, "list"),
        ({"list": "block", "kind": "iban", "value": "DE00", "reason": "r"}, "kind"),
        ({"list": "block", "kind": "ip", "value": "203.0.113.7"}, "reason"),
        ({"list": "block", "kind": "ip", "value": "203.0.113.7", "reason": "  "}, "reason"),
        ({"list": "block", "kind": "ip", "value": "203.0.113.7", "reason": "r" * 501}, "reason"),
        ({"list": "block", "kind": "ip", "value": "", "reason": "r"}, "value"),
        (
            entry_body("ip", "203.0.113.7", expires_at="2020-01-01T00:00:00Z"),
            "expires_at",
        ),
        (entry_body("ip", "203.0.113.7", expires_at="2999-01-01T00:00:00"), "expires_at"),
        (entry_body("ip", "203.0.113.7", note="extra"), "note"),
    ],
)
async def test_a_malformed_entry_is_a_422_naming_the_field(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, body: dict[str, Any], field: str
) -> None:
    response = await add(onboarding, partner_id, body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert ["body", field] in [error["loc"] for error in response.json()["errors"]]
    assert await listed(onboarding, partner_id, include_expired="true") == []


async def test_an_entry_may_expire_in_the_future(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)

    created = await add_ok(
        onboarding, partner_id, "ip", "203.0.113.7", expires_at=expires.isoformat()
    )

    assert datetime.fromisoformat(created["expires_at"]) == expires


# --- duplicates -------------------------------------------------------------------------------


async def test_the_same_value_on_the_same_list_again_is_a_409(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "example.com")

    # Another spelling of the same domain is the same entry.
    response = await add(onboarding, partner_id, entry_body("domain", "EXAMPLE.com."))

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "example.com" in response.json()["detail"]
    assert len(await listed(onboarding, partner_id)) == 1


async def test_the_same_value_may_be_on_both_lists(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "phone", "+4930901820", "block")
    await add_ok(onboarding, partner_id, "phone", "+4930901820", "allow")

    assert {e["list"] for e in await listed(onboarding, partner_id)} == {"allow", "block"}


async def test_the_same_value_of_another_kind_is_another_entry(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "example.com")
    await add_ok(onboarding, partner_id, "device", "example.com")

    assert len(await listed(onboarding, partner_id)) == 2


# --- reading, paging, removing ----------------------------------------------------------------


async def test_entries_page_in_id_order_with_a_cursor(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    created = [await add_ok(onboarding, partner_id, "bin", f"45717{i}") for i in range(5)]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await onboarding.http.get(
            ENTRIES, params=params, headers=onboarding.headers(partner_id)
        )
        page = response.json()
        seen += [e["id"] for e in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break

    assert seen == [e["id"] for e in created]
    assert seen == sorted(seen)


async def test_entries_filter_by_list_and_kind(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "ip", "203.0.113.7", "block")
    await add_ok(onboarding, partner_id, "ip", "198.51.100.7", "allow")
    await add_ok(onboarding, partner_id, "email", "a@example.com", "block")

    blocked_ips = await listed(onboarding, partner_id, list="block", kind="ip")
    allowed = await listed(onboarding, partner_id, list="allow")

    assert [e["value"] for e in blocked_ips] == ["203.0.113.7"]
    assert [e["value"] for e in allowed] == ["198.51.100.7"]


async def test_expired_entries_are_listed_only_on_request(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "ip", "203.0.113.7")
    await insert_expired(onboarding.db, partner_id, "ip", "198.51.100.7")

    current = await listed(onboarding, partner_id)
    everything = await listed(onboarding, partner_id, include_expired="true")

    assert [e["value"] for e in current] == ["203.0.113.7"]
    assert {e["value"] for e in everything} == {"203.0.113.7", "198.51.100.7"}


async def test_a_bad_filter_or_cursor_is_a_problem(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    headers = onboarding.headers(partner_id)

    bad_kind = await onboarding.http.get(ENTRIES, params={"kind": "iban"}, headers=headers)
    bad_cursor = await onboarding.http.get(ENTRIES, params={"cursor": "nope"}, headers=headers)

    assert bad_kind.status_code == 422
    assert bad_cursor.status_code == 400
    assert bad_cursor.headers["content-type"] == PROBLEM_JSON


async def test_a_removed_entry_is_gone_and_stops_matching(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    created = await add_ok(onboarding, partner_id, "device", "dev-1")
    headers = onboarding.headers(partner_id)

    removed = await onboarding.http.delete(f"{ENTRIES}/{created['id']}", headers=headers)
    fetched = await onboarding.http.get(f"{ENTRIES}/{created['id']}", headers=headers)
    removed_again = await onboarding.http.delete(f"{ENTRIES}/{created['id']}", headers=headers)

    assert removed.status_code == 204
    assert removed.content == b""
    assert fetched.status_code == 404
    assert fetched.headers["content-type"] == PROBLEM_JSON
    assert removed_again.status_code == 404
    assert await hits(onboarding.db, partner_id, device_id="dev-1") == ()


async def test_an_unknown_entry_is_a_404(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    response = await onboarding.http.get(
        f"{ENTRIES}/{uuid.uuid4()}", headers=onboarding.headers(partner_id)
    )

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


# --- tenant isolation -------------------------------------------------------------------------


async def test_another_partners_entry_is_invisible(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    theirs = await add_ok(onboarding, other, "email", "fraud@example.com")
    mine = onboarding.headers(partner_id)

    fetched = await onboarding.http.get(f"{ENTRIES}/{theirs['id']}", headers=mine)
    removed = await onboarding.http.delete(f"{ENTRIES}/{theirs['id']}", headers=mine)

    assert fetched.status_code == 404
    assert removed.status_code == 404
    assert await listed(onboarding, partner_id, include_expired="true") == []
    assert await hits(onboarding.db, partner_id, email="fraud@example.com") == ()
    # Still there for its owner: the delete did not reach it.
    assert [e["id"] for e in await listed(onboarding, other)] == [theirs["id"]]
    assert await hit_values(onboarding.db, other, email="fraud@example.com") == {
        "fraud@example.com"
    }


async def test_the_same_value_may_be_listed_by_two_partners(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "ip", "203.0.113.7")

    await add_ok(onboarding, uuid.uuid4(), "ip", "203.0.113.7")


# --- idempotency and scopes -------------------------------------------------------------------


async def test_an_idempotency_key_replays_the_created_entry(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    body = entry_body("ip", "203.0.113.7")

    first = await add(onboarding, partner_id, body, **{"Idempotency-Key": "entry-1"})
    again = await add(onboarding, partner_id, body, **{"Idempotency-Key": "entry-1"})
    other_body = await add(
        onboarding, partner_id, entry_body("ip", "203.0.113.8"), **{"Idempotency-Key": "entry-1"}
    )

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other_body.status_code == 422
    assert len(await listed(onboarding, partner_id)) == 1


async def test_adding_or_removing_needs_the_write_scope(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    created = await add_ok(onboarding, partner_id, "ip", "203.0.113.7")
    read_only = onboarding.headers(partner_id, scopes=("onboarding:read",))

    added = await onboarding.http.post(
        ENTRIES, json=entry_body("ip", "203.0.113.8"), headers=read_only
    )
    removed = await onboarding.http.delete(f"{ENTRIES}/{created['id']}", headers=read_only)

    assert added.status_code == 403
    assert removed.status_code == 403
    assert added.headers["content-type"] == PROBLEM_JSON
    assert [e["value"] for e in await listed(onboarding, partner_id)] == ["203.0.113.7"]


async def test_reading_needs_the_read_scope(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    created = await add_ok(onboarding, partner_id, "ip", "203.0.113.7")
    write_only = onboarding.headers(partner_id, scopes=("onboarding:write",))

    page = await onboarding.http.get(ENTRIES, headers=write_only)
    one = await onboarding.http.get(f"{ENTRIES}/{created['id']}", headers=write_only)

    assert page.status_code == 403
    assert one.status_code == 403


async def test_no_token_is_a_401(onboarding: RunningOnboarding) -> None:
    response = await onboarding.http.get(ENTRIES)

    assert response.status_code == 401


# --- find_hits --------------------------------------------------------------------------------


async def test_an_email_entry_matches_that_address_in_any_case(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "email", "Fraud@Example.com")

    assert await hit_values(onboarding.db, partner_id, email="fraud@example.com") == {
        "fraud@example.com"
    }
    assert await hit_values(onboarding.db, partner_id, email="FRAUD@EXAMPLE.COM") == {
        "fraud@example.com"
    }
    assert await hits(onboarding.db, partner_id, email="other@example.com") == ()


async def test_a_domain_entry_matches_the_domain_and_its_subdomains(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "example.com")
    db = onboarding.db

    assert await hit_values(db, partner_id, email_domain="example.com") == {"example.com"}
    assert await hit_values(db, partner_id, email_domain="a.b.example.com") == {"example.com"}
    assert await hit_values(db, partner_id, company_domain="Shop.Example.com.") == {"example.com"}
    assert await hits(db, partner_id, email_domain="notexample.com") == ()
    assert await hits(db, partner_id, email_domain="example.com.evil.test") == ()
    assert await hits(db, partner_id, email_domain="com") == ()


async def test_a_subdomain_entry_does_not_match_its_parent(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "b.example.com")
    db = onboarding.db

    assert await hit_values(db, partner_id, email_domain="a.b.example.com") == {"b.example.com"}
    assert await hits(db, partner_id, email_domain="example.com") == ()
    assert await hits(db, partner_id, email_domain="c.example.com") == ()


async def test_email_and_company_domains_are_both_looked_up(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "mailer.example")
    await add_ok(onboarding, partner_id, "domain", "contoso.example")

    found = await hit_values(
        onboarding.db,
        partner_id,
        email_domain="eu.mailer.example",
        company_domain="contoso.example",
    )

    assert found == {"mailer.example", "contoso.example"}


async def test_an_internationalised_domain_matches_in_either_form(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "domain", "bücher.example")
    db = onboarding.db

    assert await hit_values(db, partner_id, email_domain="shop.bücher.example") == {
        "xn--bcher-kva.example"
    }
    assert await hit_values(db, partner_id, company_domain="xn--bcher-kva.example") == {
        "xn--bcher-kva.example"
    }


@pytest.mark.parametrize(
    ("entry", "address", "hit"),
    [
        ("203.0.113.0/24", "203.0.113.77", True),
        ("203.0.113.0/24", "203.0.113.0", True),
        ("203.0.113.0/24", "203.0.114.1", False),
        ("203.0.113.7", "203.0.113.7", True),
        ("203.0.113.7", "203.0.113.8", False),
        ("203.0.113.0/24", "::ffff:203.0.113.77", True),
        ("2001:db8::/32", "2001:db8:1::5", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::1", "2001:db8::1", True),
        ("2001:db8::/32", "203.0.113.7", False),
        ("203.0.113.0/24", "2001:db8::1", False),
    ],
)
async def test_an_ip_entry_matches_addresses_in_its_range(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, entry: str, address: str, hit: bool
) -> None:
    created = await add_ok(onboarding, partner_id, "ip", entry)

    found = await hit_values(onboarding.db, partner_id, ip=ip_address(address))

    assert found == ({created["value"]} if hit else set())


async def test_several_ranges_containing_an_address_all_hit(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "ip", "203.0.0.0/16", "block")
    await add_ok(onboarding, partner_id, "ip", "203.0.113.0/24", "allow")
    await add_ok(onboarding, partner_id, "ip", "203.0.113.7", "block")

    found = await hits(onboarding.db, partner_id, ip=IPv4Address("203.0.113.7"))

    assert {(h.list, h.value) for h in found} == {
        (ListName.BLOCK, "203.0.0.0/16"),
        (ListName.ALLOW, "203.0.113.0/24"),
        (ListName.BLOCK, "203.0.113.7"),
    }


@pytest.mark.parametrize(
    ("card_bin", "expected"),
    [
        ("45717360", {"457173", "4571736"}),
        ("4571736", {"457173", "4571736"}),
        ("457173", {"457173"}),
        ("45717460", set()),
        ("45717399", {"457173", "45717399"}),
    ],
)
async def test_a_bin_entry_matches_cards_starting_with_it(
    onboarding: RunningOnboarding, partner_id: uuid.UUID, card_bin: str, expected: set[str]
) -> None:
    await add_ok(onboarding, partner_id, "bin", "457173")
    await add_ok(onboarding, partner_id, "bin", "4571736")
    await add_ok(onboarding, partner_id, "bin", "45717399")

    assert await hit_values(onboarding.db, partner_id, card_bin=card_bin) == expected


async def test_device_phone_and_tenant_entries_match_exactly(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    tenant = uuid.uuid4()
    await add_ok(onboarding, partner_id, "device", "dev-ABC")
    await add_ok(onboarding, partner_id, "phone", "+4930901820")
    await add_ok(onboarding, partner_id, "tenant", str(tenant).upper())
    db = onboarding.db

    found = await hits(db, partner_id, device_id="dev-ABC", phone="+4930901820", tenant_id=tenant)

    assert {(h.kind, h.value) for h in found} == {
        (ListKind.DEVICE, "dev-ABC"),
        (ListKind.PHONE, "+4930901820"),
        (ListKind.TENANT, str(tenant)),
    }
    assert await hits(db, partner_id, device_id="dev-abc") == ()
    assert await hits(db, partner_id, phone="+4930901821") == ()
    assert await hits(db, partner_id, tenant_id=uuid.uuid4()) == ()


async def test_allow_and_block_hits_are_both_returned_with_their_reasons(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(
        onboarding, partner_id, "domain", "contoso.example", "allow", reason="Known reseller"
    )
    await add_ok(onboarding, partner_id, "ip", "203.0.113.0/24", "block", reason="Card testing")

    found = await hits(
        onboarding.db,
        partner_id,
        email="erika@contoso.example",
        email_domain="contoso.example",
        ip=IPv4Address("203.0.113.10"),
    )

    assert found == (
        ListHit(
            list=ListName.ALLOW,
            kind=ListKind.DOMAIN,
            value="contoso.example",
            reason="Known reseller",
        ),
        ListHit(
            list=ListName.BLOCK, kind=ListKind.IP, value="203.0.113.0/24", reason="Card testing"
        ),
    )


async def test_expired_entries_do_not_hit(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await insert_expired(onboarding.db, partner_id, "device", "dev-old")
    expires = datetime.now(UTC) + timedelta(days=1)
    await add_ok(onboarding, partner_id, "device", "dev-new", expires_at=expires.isoformat())
    db = onboarding.db

    assert await hits(db, partner_id, device_id="dev-old") == ()
    assert await hit_values(db, partner_id, device_id="dev-new") == {"dev-new"}
    # The moment of the lookup decides: at or after its expiry an entry no longer hits.
    assert await hits(db, partner_id, now=expires, device_id="dev-new") == ()


async def test_an_application_with_nothing_listable_has_no_hits(
    onboarding: RunningOnboarding, partner_id: uuid.UUID
) -> None:
    await add_ok(onboarding, partner_id, "device", "dev-1")

    assert await hits(onboarding.db, partner_id) == ()


@contextmanager
def counted_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_the_hits_are_one_query(onboarding: RunningOnboarding, partner_id: uuid.UUID) -> None:
    await add_ok(onboarding, partner_id, "ip", "2001:db8::/32")
    everything = candidates(
        email="a@b.example.com",
        email_domain="b.example.com",
        company_domain="c.example.org",
        ip=IPv6Address("2001:db8::1"),
        device_id="dev",
        card_bin="45717360",
        phone="+4930901820",
        tenant_id=uuid.uuid4(),
    )

    async with onboarding.db.tenant_session(partner_id) as session:
        with counted_statements(onboarding.db) as statements:
            found = await find_hits(session, partner_id, everything, datetime.now(UTC))

    assert [hit.value for hit in found] == ["2001:db8::/32"]
    assert len(statements) == 1
