"""Webhook rules without I/O: which addresses are refused, the retry schedule, filters, signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook as StandardWebhook

from partnerguard.gateway.webhooks.destinations import (
    DestinationRefused,
    parse_url,
    refusal,
    vet_addresses,
)
from partnerguard.gateway.webhooks.filters import normalise_filters, patterns_matching
from partnerguard.gateway.webhooks.schedule import (
    DISABLE_AFTER,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    next_attempt_at,
    should_disable,
)
from partnerguard.gateway.webhooks.signing import new_secret, signature_headers


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse)
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),  # documentation range
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "metadata"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", "metadata"),  # 6to4 of 169.254.169.254
    ],
)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    found = refusal(ip_address(address))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_one_internal_address_refuses_the_whole_name() -> None:
    # A resolver may answer with any of them next time: the public one proves nothing.
    with pytest.raises(DestinationRefused, match=r"hooks\.example resolves to 10\.0\.0\.7"):
        vet_addresses("hooks.example", [ip_address("8.8.8.8"), ip_address("10.0.0.7")])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "https://user:pass@example.com/x",
        "https://example.com/x#frag",
        "https:///nohost",
        "example.com/hook",
        "https://" + "a" * 2000 + ".com/",
    ],
)
def test_malformed_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="."):
        parse_url(url)


def test_parse_url_gives_host_and_default_port() -> None:
    assert parse_url("https://Hooks.Example.com/a?b=1").port == 443
    assert parse_url("http://[::1]:8080/a").host == "::1"
    assert parse_url("https://bücher.example/").host == "xn--bcher-kva.example"


def test_retry_schedule_spans_more_than_a_day_then_stops() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    at, attempts = start, 1
    while (following := next_attempt_at(attempts, at)) is not None:
        assert following > at
        at, attempts = following, attempts + 1
    assert attempts == MAX_ATTEMPTS == len(RETRY_DELAYS) + 1
    assert at - start >= timedelta(hours=24)
    # Each wait is at least as long as the one before: backoff, never a hammering.
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)


def test_endpoint_is_given_up_only_after_failing_for_a_day() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert not should_disable(None, now)
    assert not should_disable(now - DISABLE_AFTER + timedelta(seconds=1), now)
    assert should_disable(now - DISABLE_AFTER, now)


def test_filters_accept_types_domain_wildcards_and_everything() -> None:
    assert normalise_filters(
        ["billing.invoice.issued", "enforcement.*", "billing.invoice.issued"]
    ) == [
        "billing.invoice.issued",
        "enforcement.*",
    ]
    assert normalise_filters(["billing.*", "*"]) == ["*"]
    for bad in ["billing.invoice.nope", "usage.*", "nothing.*", "billing", "*.*", ""]:
        with pytest.raises(ValueError, match="not an event type"):
            normalise_filters([bad])


def test_an_event_matches_its_type_its_domain_and_everything() -> None:
    assert set(patterns_matching("billing.customer.delinquent")) == {
        "billing.customer.delinquent",
        "billing.*",
        "*",
    }


@given(body=st.text(max_size=200), event_id=st.uuids())
def test_signature_verifies_with_a_standard_webhooks_verifier(body: str, event_id: object) -> None:
    old, new = new_secret(), new_secret()
    headers = signature_headers(str(event_id), body, [new, old], datetime.now(UTC))
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        StandardWebhook(secret).verify(body, headers, json_parse=False)


def test_secrets_have_the_standard_form() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert secret != new_secret()
