"""Reading a usage batch: the fast path (msgspec) takes only what pydantic takes, exactly as
pydantic takes it, and leaves every doubtful batch to pydantic (pure, no database)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnerguard.common.errors import Unprocessable
from partnerguard.monitoring.usage.reading import Checked, read_batch, read_clean, read_validated
from tests.support.monitoring import usage_record

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
MAX = 10_000
CUSTOMER = uuid.UUID("6f9619ff-8b86-d011-b42d-00cf4fc964ff")
MISSING = object()


def _record(record_id: str = "r-1", /, **changes: Any) -> dict[str, Any]:
    """A good record with ``changes`` (a field set to MISSING is left out)."""
    record = {**usage_record(CUSTOMER, T0, "1.25", record_id=record_id), **changes}
    return {name: value for name, value in record.items() if value is not MISSING}


def _body(records: list[Any]) -> bytes:
    return json.dumps({"records": records}).encode()


def _outcome(checked: Checked) -> tuple[Any, ...]:
    """Everything a reading decides, in comparable form: amounts as the decimals they are, and
    times with their offsets (equal instants in other offsets would be stored alike, but a
    reading should not even differ there)."""
    r = checked.records
    rows = list(
        zip(
            r.position,
            r.record_id,
            r.customer_id,
            r.vendor_tenant_id,
            r.subscription_id,
            r.meter,
            r.meter_category,
            r.resource_type,
            r.region,
            [Decimal(value).as_tuple() for value in r.quantity],
            r.unit,
            [Decimal(value).as_tuple() for value in r.cost],
            r.currency,
            [(value, value.utcoffset()) for value in r.usage_start],
            [(value, value.utcoffset()) for value in r.usage_end],
            strict=True,
        )
    )
    refused = sorted(
        (item.index, item.record_id, [(e.loc, e.msg, e.type) for e in item.errors])
        for item in checked.rejected
    )
    return rows, refused, checked.duplicates


def _read_both(body: bytes) -> tuple[Checked | None, Checked]:
    """The fast reading (None: left to pydantic) and the reference; they must agree, and
    ``read_batch`` answers as the reference does."""
    reference = read_validated(body, MAX, NOW)
    fast = read_clean(body, MAX, NOW)
    if fast is not None:
        assert _outcome(fast) == _outcome(reference)
    assert _outcome(read_batch(body, MAX, NOW)) == _outcome(reference)
    return fast, reference


TAKEN_FAST = {
    "utc as an offset": {"usage_start": "2026-11-02T08:00:00+00:00"},
    "utc as Z": {"usage_start": "2026-11-02T08:00:00Z", "usage_end": "2026-11-02T09:00:00Z"},
    "another offset": {"usage_start": "2026-11-02T09:30:00+01:30"},
    "a negative offset": {"usage_start": "2026-11-02T03:00:00-05:00"},
    "microseconds": {"usage_start": "2026-11-02T08:00:00.123456Z"},
    "tenths of a second": {"usage_start": "2026-11-02T08:00:00.5+00:00"},
    "seven places of seconds": {"usage_start": "2026-11-02T08:00:00.1234567Z"},
    "nanoseconds, truncated": {"usage_end": "2026-11-02T08:59:59.999999999Z"},
    "a leap day": {
        "usage_start": "2024-02-29T08:00:00Z",
        "usage_end": "2024-02-29T09:00:00Z",
    },
    "exactly 31 days": {"usage_end": (T0 + timedelta(days=31)).isoformat()},
    "the first instant taken": {
        "usage_start": "2000-01-01T00:00:00Z",
        "usage_end": "2000-01-01T01:00:00Z",
    },
    "the first instant taken, in 1999 locally": {
        "usage_start": "1999-12-31T19:00:00-05:00",
        "usage_end": "1999-12-31T20:00:00-05:00",
    },
    "no time at all": {"usage_end": T0.isoformat()},
    "leading zeros": {"cost": "0012.50", "quantity": "000000000001"},
    "eight places": {"cost": "0.12345678"},
    "twelve digits": {"cost": "999999999999.99999999"},
    "zero": {"cost": "0", "quantity": "0.0"},
    "a 200-character label": {"meter": "m" * 200},
    "200 emoji": {"region": "\U0001f600" * 200},
    "inner spaces": {"meter": "D2 v3  Spot"},
    "a newline inside a label": {"meter": "D2\nv3"},
    "unicode": {"region": "Zürich Nord", "record_id": "r-é"},
    "upper-case uuid": {"customer_id": str(CUSTOMER).upper()},
    "a uuid without hyphens": {"subscription_id": uuid.uuid4().hex},
    "by tenant": {"customer_id": MISSING, "vendor_tenant_id": str(uuid.uuid4())},
    "by tenant, customer null": {"customer_id": None, "vendor_tenant_id": str(uuid.uuid4())},
    "tenant null": {"vendor_tenant_id": None},
}

LEFT_TO_PYDANTIC = {
    "padded label": {"meter": " D2 v3 "},
    "tab-padded id": {"record_id": "r-1\t"},
    "nbsp-padded label": {"unit": "1 Hour\u00a0"},
    "em-space-padded label": {"region": "\u2003westeurope"},
    "padding pydantic keeps": {"meter": "D2 v3\x1f"},
    "only spaces": {"meter": "   "},
    "201 characters that strip to 200": {"meter": " " + "m" * 200},
    "a 201-character label": {"meter": "m" * 201},
    "201 emoji": {"region": "\U0001f600" * 201},
    "empty label": {"unit": ""},
    "null label": {"meter": None},
    "missing label": {"meter_category": MISSING},
    "a number for a label": {"meter": 7},
    "naive start": {"usage_start": "2026-11-02T08:00:00"},
    "a date alone": {"usage_start": "2026-11-02"},
    "a space for the T": {"usage_start": "2026-11-02 08:00:00Z"},
    "lower-case t and z": {"usage_start": "2026-11-02t08:00:00z"},
    "no seconds": {"usage_start": "2026-11-02T08:00Z"},
    "a comma for the point": {"usage_start": "2026-11-02T08:00:00,5Z"},
    "ten places of seconds": {"usage_start": "2026-11-02T08:00:00.1234567891Z"},
    "an offset of 60 minutes": {"usage_start": "2026-11-02T08:00:00+00:60"},
    "an offset without minutes": {"usage_start": "2026-11-02T08:00:00+01"},
    "an offset without colon": {"usage_start": "2026-11-02T09:00:00+0100"},
    "a day february lacks": {"usage_start": "2026-02-30T08:00:00Z"},
    "a leap second": {"usage_start": "2026-11-02T23:59:60Z"},
    "a timestamp": {"usage_start": "1793606400"},
    "a number for a time": {"usage_start": 1793606400},
    "a time with a newline": {"usage_start": "2026-11-02T08:00:00Z\n"},
    "start in the future": {"usage_start": (NOW + timedelta(minutes=6)).isoformat()},
    "end before start": {"usage_end": (T0 - timedelta(seconds=1)).isoformat()},
    "more than 31 days": {"usage_end": (T0 + timedelta(days=31, microseconds=1)).isoformat()},
    "start before 2000": {
        "usage_start": "1999-12-31T23:59:59.999999Z",
        "usage_end": "2000-01-01T00:00:00Z",
    },
    "start before 2000 in UTC": {
        "usage_start": "2000-01-01T00:59:59+01:00",
        "usage_end": "2000-01-01T01:59:59+01:00",
    },
    "start on the calendar's first day": {
        "usage_start": "0001-01-01T00:00:00Z",
        "usage_end": "0001-01-01T01:00:00Z",
    },
    "start before the calendar's first day in UTC": {
        "usage_start": "0001-01-01T00:00:00+05:00",
        "usage_end": "0001-01-01T01:00:00+05:00",
    },
    "start on the calendar's last day": {
        "usage_start": "9999-12-31T23:00:00Z",
        "usage_end": "9999-12-31T23:59:59.999999Z",
    },
    "start past the calendar's last day in UTC": {
        "usage_start": "9999-12-31T23:00:00-05:00",
        "usage_end": "9999-12-31T23:30:00-05:00",
    },
    "end on the calendar's last day": {"usage_end": "9999-12-31T23:59:59Z"},
    "lower-case currency": {"currency": "eur"},
    "currency and newline": {"currency": "EUR\n"},
    "accented currency": {"currency": "ÉUR"},
    "two-letter currency": {"currency": "EU"},
    "null currency": {"currency": None},
    "an exponent": {"cost": "1E+2"},
    "a lower-case exponent": {"quantity": "1e2"},
    "nine places": {"cost": "1.123456789"},
    "negative": {"cost": "-3"},
    "negative zero": {"quantity": "-0"},
    "thirteen digits": {"quantity": "1234567890123"},
    "thirteen digits, leading zero": {"quantity": "0123456789012"},
    "more than twelve leading zeros": {"quantity": "0000000000001"},
    "a point and nothing after": {"cost": "1."},
    "nothing before the point": {"cost": ".5"},
    "a unit": {"cost": "12.5 EUR"},
    "arabic digits": {"cost": "\u0661\u0662"},
    "a newline in an amount": {"cost": "1\n2"},
    "a trailing newline": {"cost": "1\n"},
    "a float": {"cost": 1.5},
    "an integer": {"quantity": 3},
    "empty amount": {"cost": ""},
    "null amount": {"cost": None},
    "both customer ids": {"vendor_tenant_id": str(uuid.uuid4())},
    "neither customer id": {"customer_id": MISSING},
    "both null": {"customer_id": None, "vendor_tenant_id": None},
    "a braced uuid": {"subscription_id": "{" + str(uuid.uuid4()) + "}"},
    "a urn": {"customer_id": "urn:uuid:" + str(CUSTOMER)},
    "hyphens misplaced": {"subscription_id": "6f9619ff8b86-d011-b42d-00cf4fc964ff"},
    "a short uuid": {"subscription_id": str(CUSTOMER)[:-1]},
    "null subscription": {"subscription_id": None},
    "an extra field": {"surprise": 1},
    "an extra null field": {"note": None},
}


@pytest.mark.parametrize("changes", TAKEN_FAST.values(), ids=TAKEN_FAST.keys())
def test_a_plainly_good_record_is_read_fast_and_as_pydantic_reads_it(
    changes: dict[str, Any],
) -> None:
    body = _body([_record("r-0"), _record("r-1", **changes), _record("r-2")])

    fast, reference = _read_both(body)

    assert fast is not None
    assert len(reference.records) == 3


@pytest.mark.parametrize("changes", LEFT_TO_PYDANTIC.values(), ids=LEFT_TO_PYDANTIC.keys())
def test_a_doubtful_record_leaves_its_batch_to_pydantic(changes: dict[str, Any]) -> None:
    body = _body([_record("r-0"), _record("r-1", **changes), _record("r-2")])

    fast, reference = _read_both(body)

    assert fast is None
    assert {0, 2} <= set(reference.records.position)


def test_a_record_that_is_not_an_object_leaves_its_batch_to_pydantic() -> None:
    fast, reference = _read_both(_body([_record("r-0"), "not a record", [1], None]))

    assert fast is None
    assert [item.index for item in reference.rejected] == [1, 2, 3]


def test_a_repeated_id_is_a_duplicate_of_its_first_record_either_way() -> None:
    first = _record("r-1", cost="1")
    body = _body([_record("r-2"), first, _record("r-0"), _record("r-1", cost="2"), first])

    fast, reference = _read_both(body)

    assert fast is not None
    assert fast.duplicates == 2
    assert fast.records.record_id == ["r-0", "r-1", "r-2"]
    assert fast.records.position == [2, 1, 0]
    assert fast.records.cost == ["1.25", "1", "1.25"]


def test_a_body_after_a_byte_order_mark_is_left_to_pydantic() -> None:
    fast, reference = _read_both(b"\xef\xbb\xbf" + _body([_record()]))

    assert fast is None
    assert reference.records.record_id == ["r-1"]


def test_a_key_given_twice_counts_as_json_parsers_count_it() -> None:
    record = json.dumps(_record("r-1"))[:-1] + ', "cost": "7"}'
    bad = json.dumps(_record("r-0", cost="-1"))
    body = ('{"records": [' + bad + '], "records": [' + record + "]}").encode()

    fast, reference = _read_both(body)

    assert fast is not None
    assert reference.records.cost == ["7"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"records": []}',
        b'{"records": {}}',
        _body([_record()])[:-1] + b', "extra": true}',
        b'{"records": [{"record_id": "\xff"}]}',
        _body([_record(f"r-{n}") for n in range(MAX + 1)]),
    ],
    ids=["not json", "a list", "no records", "not a list", "extra", "not utf-8", "too many"],
)
def test_a_body_that_is_not_a_batch_is_refused_whole_either_way(body: bytes) -> None:
    with pytest.raises(Unprocessable) as reference:
        read_validated(body, MAX, NOW)
    with pytest.raises(Unprocessable) as either:
        read_batch(body, MAX, NOW)

    assert either.value.detail == reference.value.detail


_LABELS = st.one_of(
    st.sampled_from(["D2 v3", " D2 v3", "D2 v3\t", "\u00a0x", "x\x1c", "", "m" * 200, "m" * 201]),
    st.text(max_size=4),
)
_AMOUNTS = st.one_of(
    st.sampled_from(["1.25", "0", "007", "-0", "-1", "1.", ".5", "1e2", "1.123456789", "1\n"]),
    st.from_regex(r"\A-?[0-9]{1,14}(\.[0-9]{0,10})?\Z"),
    st.integers(),
    st.floats(allow_nan=False),
)
_TIMES = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 9, 1),
        max_value=datetime(2026, 12, 1),
        timezones=st.none() | st.just(UTC) | st.timezones(),
    ).map(datetime.isoformat),
    st.from_regex(
        r"\A2026-1[01]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{0,12})?"
        r"(Z|z|[+-][0-2][0-9](:?[0-6][0-9])?)?\Z"
    ),
    st.sampled_from(["2026-11-02T08:00:00Z", "2026-11-02T08:00:00.1234567Z", "2026-11-02 08:00Z"]),
    # The ends of what is taken, and of the calendar (in UTC and beyond it by an offset).
    st.sampled_from(
        [
            "2000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999999Z",
            "1999-12-31T23:00:00-01:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:00:00-05:00",
        ]
    ),
)
_IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: value.hex.upper()),
    st.sampled_from([None, MISSING, "{" + str(CUSTOMER) + "}", "x"]),
)
# What a record's fields may be changed to: good, doubtful and bad values alike.
_CHANGES = {
    "record_id": st.sampled_from(["r-1", "r-2", " r-1", "r-1\u2003"]),
    "customer_id": _IDS,
    "vendor_tenant_id": _IDS,
    "subscription_id": _IDS,
    "meter": _LABELS,
    "meter_category": _LABELS,
    "resource_type": _LABELS,
    "region": _LABELS,
    "quantity": _AMOUNTS,
    "unit": _LABELS,
    "cost": _AMOUNTS,
    "currency": st.sampled_from(["EUR", "USD", "eur", "EUR\n", "EU", None]),
    "usage_start": _TIMES,
    "usage_end": _TIMES,
    "surprise": st.just(1),
}


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    """A good record with up to three fields changed."""
    changed = draw(st.lists(st.sampled_from(sorted(_CHANGES)), max_size=3, unique=True))
    return _record(
        draw(st.sampled_from(["r-1", "r-2", "r-3"])),
        **{name: draw(_CHANGES[name]) for name in changed},
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_records(), min_size=1, max_size=4))
def test_any_batch_is_read_fast_only_as_pydantic_reads_it(records: list[dict[str, Any]]) -> None:
    _read_both(_body(records))
