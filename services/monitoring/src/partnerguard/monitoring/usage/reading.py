"""Reading a batch of usage records: each record accepted, a duplicate, or refused with why.

Records are checked one by one, so one bad record never costs the good ones beside it. A batch
is held as columns from the moment it is read, the shape the store statement binds: a batch of
10,000 records then costs a few passes over lists, not tens of thousands of objects. A batch
whose every record is plainly good is decoded by msgspec; any doubt sends it to the pydantic
models, record by record, which give each refusal its reasons.
"""

from __future__ import annotations

import gc
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import is_, ne, sub
from typing import Any, cast

import msgspec
from asyncpg.pgproto.pgproto import UUID as FastUUID
from pydantic import ValidationError

from partnerguard.common.errors import FieldProblem, Unprocessable
from partnerguard.common.web.deps import NUL_ESCAPE
from partnerguard.monitoring.models import FootprintKind
from partnerguard.monitoring.usage.schemas import (
    BATCH,
    RECORD,
    WIRE_BATCH,
    RejectedRecord,
    UsageRecordIn,
    WireRecord,
)

# numeric(20, 8) holds 12 digits before the point; more would fail the whole statement. This
# also bounds every total of records (see TOTAL in models.py).
MAX_INTEGER_DIGITS = 12
# Clocks differ: usage may start a little "in the future" of ours.
CLOCK_SKEW = timedelta(minutes=5)
# A record longer than this is not metered usage (the vendor rates per hour or per day).
MAX_SPAN = timedelta(days=31)
# Usage before this is no metered cloud usage but a mistake (a year 1 from a zeroed date, say).
# With it and the clock above, every accepted time is far from both ends of the calendar, so
# what is computed from it (the hour and day it counts in, the detectors' windows of weeks
# either side) never leaves what datetime and the database hold.
EARLIEST_USAGE = datetime(2000, 1, 1, tzinfo=UTC)

# What the fast path takes: a strict part of what UsageRecordIn accepts, each pattern matched
# over a whole column at once (one value a line). Amounts: unsigned, at most 12 digits before
# the point, so that no rule refuses one either. Times: RFC 3339 with an offset; what is finer
# than microseconds (.NET writes 7 places) datetime.fromisoformat truncates, as pydantic does
# (msgspec's own datetime parsing would round it).
_AMOUNTS = re.compile(r"(?:[0-9]{1,12}(?:\.[0-9]{1,8})?\n)*")
_TIMES = re.compile(
    r"(?:[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\n)*"
)
_CURRENCY = re.compile(r"[A-Z]{3}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}"
)
RESOURCE_TYPE = FootprintKind.RESOURCE_TYPE.value
REGION = FootprintKind.REGION.value


def parse_batch(body: bytes, max_records: int) -> list[Any]:
    """The records of a body ``{"records": [...]}``, unchecked; a body that is not such a batch
    is refused whole (422), since nothing in it can be told apart from the rest."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"the body is not JSON: {exc}") from exc
    if (
        not isinstance(data, dict)
        or set(data) != {"records"}
        or not isinstance(data["records"], list)
    ):
        raise Unprocessable('the body must be an object {"records": [...]} and nothing else')
    records: list[Any] = data["records"]
    _check_size(len(records), max_records)
    return records


def _check_size(count: int, max_records: int) -> None:
    if not count:
        raise Unprocessable("the batch has no records")
    if count > max_records:
        raise Unprocessable(f"a batch holds at most {max_records} records, not {count}")


def _problem(loc: str, msg: str, kind: str = "value_error") -> FieldProblem:
    return FieldProblem(loc=[loc], msg=msg, type=kind)


def _amount_problems(record: UsageRecordIn) -> list[FieldProblem]:
    problems = []
    for name in ("quantity", "cost"):
        value = getattr(record, name)
        if value.is_signed():
            problems.append(_problem(name, f"{name} must not be negative"))
        elif value.adjusted() >= MAX_INTEGER_DIGITS:
            problems.append(
                _problem(name, f"{name} has more than {MAX_INTEGER_DIGITS} digits before the point")
            )
    return problems


def _time_problems(record: UsageRecordIn, latest: datetime) -> list[FieldProblem]:
    if record.usage_end < record.usage_start:
        return [_problem("usage_end", "usage_end is before usage_start")]
    if record.usage_end - record.usage_start > MAX_SPAN:
        return [_problem("usage_end", "a record covers at most 31 days")]
    if record.usage_start > latest:
        return [_problem("usage_start", "usage_start is in the future")]
    if record.usage_start < EARLIEST_USAGE:
        return [_problem("usage_start", "usage_start is before 2000-01-01")]
    return []


def _problems(record: UsageRecordIn, latest: datetime) -> list[FieldProblem]:
    problems = _amount_problems(record) + _time_problems(record, latest)
    if (record.customer_id is None) == (record.vendor_tenant_id is None):
        problems.append(
            _problem("customer_id", "give exactly one of customer_id and vendor_tenant_id")
        )
    return problems


@dataclass
class Records:
    """Records as parallel columns, in record id order (the order they are stored in; see
    ``_to_store``). ``position`` is each one's place in its batch, and ``customer_id`` is None
    where ``vendor_tenant_id`` names the customer instead. Amounts are plain decimal strings
    (digits, at most one point, no exponent)."""

    position: list[int]
    record_id: list[str]
    customer_id: list[uuid.UUID | None]
    vendor_tenant_id: list[uuid.UUID | None]
    subscription_id: list[uuid.UUID]
    meter: list[str]
    meter_category: list[str]
    resource_type: list[str]
    region: list[str]
    quantity: list[str]
    unit: list[str]
    cost: list[str]
    currency: list[str]
    usage_start: list[datetime]
    usage_end: list[datetime]

    def __len__(self) -> int:
        return len(self.record_id)

    def take(self, rows: Sequence[int]) -> Records:
        """The records at ``rows``, in that order."""
        return Records(
            *(list(map(getattr(self, column.name).__getitem__, rows)) for column in fields(self))
        )

    @classmethod
    def of_models(cls, positions: list[int], records: list[UsageRecordIn]) -> Records:
        """``records`` (at ``positions``) as columns, once sorted by id."""
        order = sorted(range(len(records)), key=lambda row: records[row].record_id)
        positions = [positions[row] for row in order]
        records = [records[row] for row in order]
        return cls(
            position=positions,
            record_id=[r.record_id for r in records],
            customer_id=[r.customer_id for r in records],
            vendor_tenant_id=[r.vendor_tenant_id for r in records],
            subscription_id=[r.subscription_id for r in records],
            meter=[r.meter for r in records],
            meter_category=[r.meter_category for r in records],
            resource_type=[r.resource_type for r in records],
            region=[r.region for r in records],
            # Fixed point: str() would write 1E-8, which is no plain decimal string.
            quantity=[format(r.quantity, "f") for r in records],
            unit=[r.unit for r in records],
            cost=[format(r.cost, "f") for r in records],
            currency=[r.currency for r in records],
            usage_start=[r.usage_start for r in records],
            usage_end=[r.usage_end for r in records],
        )


@dataclass
class Checked:
    """A batch after checking: the good records, the refused ones, and how many repeated an id
    earlier in the batch."""

    records: Records
    rejected: list[RejectedRecord] = field(default_factory=list)
    duplicates: int = 0


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while a batch's records are built: they hold no cycles,
    yet the tens of thousands of new objects would trigger full collections of the whole
    heap mid-batch (which more than doubled the time of validating one)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_batch(body: bytes, max_records: int, now: datetime) -> Checked:
    """Check a body ``{"records": [...]}`` record by record.

    A batch whose every record is plainly good is decoded by msgspec straight into columns (the
    common case, and several times faster); any other is read by pydantic (``read_validated``).
    """
    with _no_cycle_collection():
        checked = read_clean(body, max_records, now)
    return checked if checked is not None else read_validated(body, max_records, now)


def read_clean(body: bytes, max_records: int, now: datetime) -> Checked | None:
    """The batch, if each of its records is one that UsageRecordIn takes as it is and that no
    rule refuses; None when any record needs pydantic's judgement. What it returns is what
    ``read_validated`` would."""
    if NUL_ESCAPE in body:  # msgspec would take a NUL, which UsageRecordIn refuses
        return None
    try:
        wire = WIRE_BATCH.decode(body).records
    except (msgspec.DecodeError, ValueError):  # not JSON, not UTF-8, or not a plain batch
        return None
    _check_size(len(wire), max_records)
    # Sorted (stably) as the store wants them, before the columns are made.
    ids = [r.record_id for r in wire]
    order = sorted(range(len(ids)), key=ids.__getitem__)
    records = _columns(order, list(map(wire.__getitem__, order)))
    if records is None or not _plainly_good(records, now + CLOCK_SKEW):
        return None
    # Each id's first row, the one earliest in the batch: a later one is a duplicate.
    ids = records.record_id
    first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
    if len(first) == len(ids):
        return Checked(records)
    return Checked(records.take(sorted(first.values())), duplicates=len(ids) - len(first))


def read_validated(body: bytes, max_records: int, now: datetime) -> Checked:
    """Check a batch with UsageRecordIn: in one go when every record passes the schema,
    otherwise each record on its own, so that each bad one is refused with its reasons and the
    rest kept."""
    with _no_cycle_collection():
        try:
            records = BATCH.validate_json(body)["records"]
        except ValidationError:
            records = None
    if records is None:
        return check_records(parse_batch(body, max_records), now)
    _check_size(len(records), max_records)
    tally = _Tally(now)
    for position, record in enumerate(records):
        tally.keep(position, record)
    return tally.checked()


def _columns(positions: list[int], wire: list[WireRecord]) -> Records | None:
    customer_id = _uuids([r.customer_id for r in wire])
    vendor_tenant_id = _uuids([r.vendor_tenant_id for r in wire])
    subscription_id = _uuids([r.subscription_id for r in wire])
    usage_start = _times([r.usage_start for r in wire])
    usage_end = _times([r.usage_end for r in wire])
    if (
        customer_id is None
        or vendor_tenant_id is None
        or subscription_id is None
        or usage_start is None
        or usage_end is None
    ):
        return None
    return Records(
        position=positions,
        record_id=[r.record_id for r in wire],
        customer_id=customer_id,
        vendor_tenant_id=vendor_tenant_id,
        # Never None: msgspec requires a string there.
        subscription_id=cast(list[uuid.UUID], subscription_id),
        meter=[r.meter for r in wire],
        meter_category=[r.meter_category for r in wire],
        resource_type=[r.resource_type for r in wire],
        region=[r.region for r in wire],
        quantity=[r.quantity for r in wire],
        unit=[r.unit for r in wire],
        cost=[r.cost for r in wire],
        currency=[r.currency for r in wire],
        usage_start=usage_start,
        usage_end=usage_end,
    )


def _uuids(texts: Sequence[str | None]) -> list[uuid.UUID | None] | None:
    """The ids as UUIDs, or None if any is in a form other than the two that pydantic and
    asyncpg's parser read alike (hyphenated or 32 hex digits). A batch names a few customers
    and subscriptions many times over: each distinct id is parsed once, into asyncpg's UUID
    (a uuid.UUID parsed in C, its hash kept, bound as it is)."""
    distinct = set(texts)
    distinct.discard(None)
    if not all(map(_UUID.fullmatch, cast(set[str], distinct))):
        return None
    parsed: dict[str | None, uuid.UUID | None] = {text: FastUUID(text) for text in distinct}
    parsed[None] = None
    return list(map(parsed.__getitem__, texts))


def _times(texts: list[str]) -> list[datetime] | None:
    """The times, or None if any is not RFC 3339. A feed's records start and end on a few
    instants (the hour, the day): each distinct one is checked and parsed once."""
    distinct = list(set(texts))
    if not _all_match(_TIMES, distinct):
        return None
    try:
        parsed = dict(zip(distinct, map(datetime.fromisoformat, distinct), strict=True))
    except ValueError:  # a day its month lacks
        return None
    return list(map(parsed.__getitem__, texts))


def _all_match(pattern: re.Pattern[str], values: list[str]) -> bool:
    """Whether every value is one that ``pattern``'s repeated line takes: one pass of the regex
    over the column joined, several times cheaper than a match per value. A newline inside a
    value would split it in two, so the text must hold exactly one newline per value."""
    text = "\n".join(values) + "\n"
    return text.count("\n") == len(values) and pattern.fullmatch(text) is not None


def _unpadded(labels: list[str]) -> bool:
    # str.strip strips all that pydantic's strip_whitespace does (Unicode White_Space) and a
    # few more (\x1c-\x1f): a label it leaves alone, pydantic leaves alone.
    return list(map(str.strip, labels)) == labels


def _plainly_good(records: Records, latest: datetime) -> bool:
    """What UsageRecordIn would check beyond msgspec, and what ``_Tally.keep`` refuses, for
    the whole batch at once; any doubt is a no."""
    spans = list(map(sub, records.usage_end, records.usage_start))
    return (
        all(
            map(
                _unpadded,
                (
                    records.record_id,
                    records.meter,
                    records.meter_category,
                    records.resource_type,
                    records.region,
                    records.unit,
                ),
            )
        )
        and all(map(_CURRENCY.fullmatch, set(records.currency)))
        and _all_match(_AMOUNTS, records.quantity)
        and _all_match(_AMOUNTS, records.cost)
        and max(records.usage_start) <= latest
        and min(records.usage_start) >= EARLIEST_USAGE
        and min(spans) >= timedelta(0)
        and max(spans) <= MAX_SPAN
        # Exactly one of customer_id and vendor_tenant_id.
        and all(
            map(
                ne,
                map(is_, records.customer_id, repeat(None)),
                map(is_, records.vendor_tenant_id, repeat(None)),
            )
        )
    )


class _Tally:
    """Records validated by pydantic, kept or refused one at a time."""

    def __init__(self, now: datetime) -> None:
        self.latest = now + CLOCK_SKEW
        self.kept: list[UsageRecordIn] = []
        self.positions: list[int] = []
        self.rejected: list[RejectedRecord] = []
        self.duplicates = 0
        self.seen: set[str] = set()

    def keep(self, position: int, record: UsageRecordIn) -> None:
        """Keep ``record`` unless a rule beyond the schema refuses it. The common, clean record
        takes one cheap test."""
        latest = self.latest
        if (
            record.cost.is_signed()
            or record.quantity.is_signed()
            or record.cost.adjusted() >= MAX_INTEGER_DIGITS
            or record.quantity.adjusted() >= MAX_INTEGER_DIGITS
            # The span, not start + MAX_SPAN: near the end of the calendar that sum overflows.
            or not timedelta(0) <= record.usage_end - record.usage_start <= MAX_SPAN
            or not EARLIEST_USAGE <= record.usage_start <= latest
            or (record.customer_id is None) == (record.vendor_tenant_id is None)
        ):
            self.rejected.append(
                RejectedRecord(
                    index=position, record_id=record.record_id, errors=_problems(record, latest)
                )
            )
        elif record.record_id in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(record.record_id)
            self.kept.append(record)
            self.positions.append(position)

    def checked(self) -> Checked:
        records = Records.of_models(self.positions, self.kept)
        return Checked(records, self.rejected, self.duplicates)


def check_records(raw: list[Any], now: datetime) -> Checked:
    """Validate each record on its own; a record id repeated in the batch is a duplicate."""
    tally = _Tally(now)
    for position, item in enumerate(raw):
        try:
            record = RECORD.validate_python(item)
        except ValidationError as exc:
            tally.rejected.append(
                RejectedRecord(
                    index=position,
                    record_id=_raw_id(item),
                    errors=[
                        FieldProblem(
                            # A record that is not an object at all: the whole record.
                            loc=[
                                part if isinstance(part, int) else _storable(str(part))
                                for part in err["loc"]
                            ]
                            or ["record"],
                            msg=_storable(err["msg"]),
                            type=err["type"],
                        )
                        for err in exc.errors(include_url=False)
                    ],
                )
            )
            continue
        tally.keep(position, record)
    return tally.checked()


def _raw_id(item: Any) -> str | None:
    value = item.get("record_id") if isinstance(item, dict) else None
    return _storable(value[:200]) if isinstance(value, str) else None


def _storable(text: str) -> str:
    """What a refused record said, as the stream's refusals can be stored: a NUL character
    (in an id, a key, or a message quoting the input) becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def refuse(rejected: list[RejectedRecord], records: Records, row: int, loc: str, msg: str) -> None:
    rejected.append(
        RejectedRecord(
            index=records.position[row],
            record_id=records.record_id[row],
            errors=[_problem(loc, msg)],
        )
    )
