"""Activity logs: batches of entries in, the rules run on what is new, entries listed.

A batch is checked entry by entry: a bad entry is refused with its reasons and the others are
kept. An entry is stored once per partner by the sender's id, and only entries stored by this
batch go through the rules, so a resent batch raises nothing new. Each rule's alert carries a
dedup key for what it found, which also settles two batches racing over the same finding.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from pydantic import JsonValue, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import BadRequest, FieldProblem
from partnerguard.common.pagination import Page
from partnerguard.monitoring.activity.geo import country_points
from partnerguard.monitoring.activity.repository import (
    ActivityRepository,
    CountryFootprintRepository,
)
from partnerguard.monitoring.activity.rules import (
    Activity,
    ChangeKind,
    change_kinds,
    entry_finding,
    entry_rules,
    first_in_new_countries,
    impossible_travel,
    mass_change_crossings,
    mass_change_finding,
    new_country_finding,
    past_learning,
    travel_finding,
)
from partnerguard.monitoring.activity.schemas import (
    ActivityBatchResult,
    ActivityEntryIn,
    ActivityEntryOut,
    ActivityFilters,
    EntryRejection,
)
from partnerguard.monitoring.alerts.raising import Finding, raise_alert
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.detection.config import ActivityRules, ImpossibleTravel, MassChange
from partnerguard.monitoring.detection.settings import load_config
from partnerguard.monitoring.models import ActivityEntry

log = structlog.get_logger()


# --- ingestion --------------------------------------------------------------------------------


def _problems(exc: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(
            loc=[part if isinstance(part, int) else str(part) for part in error["loc"]],
            msg=error["msg"],
            type=error["type"],
        )
        for error in exc.errors(include_url=False, include_input=False)
    ]


def _readable_id(raw: JsonValue) -> str | None:
    """The entry's id as sent, to name a refused entry by (cut short: it may be the problem)."""
    if isinstance(raw, dict):
        entry_id = raw.get("entry_id")
        if isinstance(entry_id, str):
            return entry_id[:200]
    return None


def _customer_of(
    entry: ActivityEntryIn, customer_of_tenant: dict[uuid.UUID, uuid.UUID]
) -> uuid.UUID | FieldProblem:
    """The customer an entry is about, or why it names none of the partner's."""
    if (entry.customer_id is None) == (entry.vendor_tenant_id is None):
        return FieldProblem(
            loc=["customer_id"],
            msg="give exactly one of customer_id and vendor_tenant_id",
            type="exactly_one_customer",
        )
    if entry.customer_id is not None:
        return entry.customer_id
    assert entry.vendor_tenant_id is not None
    customer_id = customer_of_tenant.get(entry.vendor_tenant_id)
    if customer_id is None:
        return FieldProblem(
            loc=["vendor_tenant_id"],
            msg="no customer of this partner has this vendor tenant",
            type="unknown_tenant",
        )
    return customer_id


def _activity(entry: ActivityEntry) -> Activity:
    return Activity(
        entry_id=entry.entry_id,
        customer_id=entry.customer_id,
        actor=entry.actor,
        operation=entry.operation,
        succeeded=entry.result == "success",
        occurred_at=entry.occurred_at,
        resource=entry.resource,
        role=entry.role,
        ip=entry.ip,
        country=entry.country,
    )


async def ingest_activity(
    session: AsyncSession, partner_id: uuid.UUID, entries: Sequence[JsonValue], now: datetime
) -> ActivityBatchResult:
    """Check, store and evaluate a batch of entries (the batch's size is the caller's check)."""
    rejected: list[EntryRejection] = []
    valid: list[tuple[int, ActivityEntryIn]] = []
    for index, raw in enumerate(entries):
        try:
            valid.append((index, ActivityEntryIn.model_validate(raw, context={"now": now})))
        except ValidationError as exc:
            rejected.append(
                EntryRejection(index=index, entry_id=_readable_id(raw), errors=_problems(exc))
            )

    tenants = {entry.vendor_tenant_id for _, entry in valid if entry.vendor_tenant_id}
    customer_of_tenant = (
        await CustomerRepository(session).customers_of_tenants(partner_id, tenants)
        if tenants
        else {}
    )
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    duplicates = 0
    for index, entry in valid:
        customer_id = _customer_of(entry, customer_of_tenant)
        if isinstance(customer_id, FieldProblem):
            rejected.append(
                EntryRejection(index=index, entry_id=entry.entry_id, errors=[customer_id])
            )
            continue
        if entry.entry_id in seen:  # sent twice in one batch: the first one counts
            duplicates += 1
            continue
        seen.add(entry.entry_id)
        rows.append(
            {
                "partner_id": partner_id,
                "entry_id": entry.entry_id,
                "customer_id": customer_id,
                "actor": entry.actor,
                "operation": entry.operation,
                "resource": entry.resource,
                "role": entry.role,
                "ip": str(entry.ip) if entry.ip is not None else None,
                "country": entry.country,
                "result": entry.result,
                "occurred_at": entry.occurred_at,
            }
        )

    stored = await ActivityRepository(session).insert_new(rows)
    duplicates += len(rows) - len(stored)
    alert_ids = await run_activity_rules(session, partner_id, [_activity(e) for e in stored], now)
    rejected.sort(key=lambda rejection: rejection.index)
    log.info(
        "activity.ingested",
        partner_id=str(partner_id),
        accepted=len(stored),
        duplicates=duplicates,
        rejected=len(rejected),
        alerts=len(alert_ids),
    )
    return ActivityBatchResult(
        accepted=len(stored), duplicates=duplicates, rejected=rejected, alerts=alert_ids
    )


# --- rules ------------------------------------------------------------------------------------


async def run_activity_rules(
    session: AsyncSession, partner_id: uuid.UUID, new: Sequence[Activity], now: datetime
) -> list[uuid.UUID]:
    """Run the partner's activity rules on entries just stored; the ids of the alerts raised."""
    if not new:
        return []
    rules = (await load_config(session, partner_id)).activity
    findings = [
        entry_finding(name, entry, rules) for entry in new for name in entry_rules(entry, rules)
    ]
    findings += await _new_countries(session, partner_id, new, rules)
    if rules.impossible_travel.enabled:
        findings += await _impossible_travel(session, partner_id, new, rules.impossible_travel)
    if rules.mass_change.enabled:
        findings += await _mass_changes(session, partner_id, new, rules.mass_change)

    raised: list[uuid.UUID] = []
    # One finding may be reached twice in a batch (both ends of one journey are new).
    for finding in {finding.dedup_key: finding for finding in findings}.values():
        alert = await raise_alert(session, partner_id, finding, now)
        if alert is not None:
            raised.append(alert.id)
    return raised


async def _new_countries(
    session: AsyncSession, partner_id: uuid.UUID, new: Sequence[Activity], rules: ActivityRules
) -> list[Finding]:
    """Record where customers acted from, and find the countries none of them had before."""
    acting = [entry for entry in new if entry.succeeded and entry.country]
    if not acting:
        return []
    customers = {entry.customer_id for entry in acting}
    footprints = CountryFootprintRepository(session)
    known = await footprints.known(partner_id, customers)
    first_seen: dict[tuple[uuid.UUID, str], datetime] = {}
    for entry in acting:
        assert entry.country is not None
        key = (entry.customer_id, entry.country)
        if entry.country not in known.get(entry.customer_id, ()):
            first_seen[key] = min(first_seen.get(key, entry.occurred_at), entry.occurred_at)
    await footprints.record(partner_id, first_seen)

    rule = rules.new_country
    if not rule.enabled or not first_seen:
        return []
    first_activity = await ActivityRepository(session).first_activity(partner_id, customers)
    findings = []
    for customer_id in sorted(customers):
        before = known.get(customer_id, set())
        mine = [entry for entry in acting if entry.customer_id == customer_id]
        started = first_activity[customer_id]
        for entry in first_in_new_countries(mine, before):
            if past_learning(started, entry.occurred_at, rule.learning_days):
                # What was usual by then: what the customer had, and what this batch shows earlier.
                earlier = {
                    e.country for e in mine if e.country and e.occurred_at < entry.occurred_at
                }
                findings.append(new_country_finding(entry, started, before | earlier, rule))
    return findings


async def _impossible_travel(
    session: AsyncSession, partner_id: uuid.UUID, new: Sequence[Activity], rule: ImpossibleTravel
) -> list[Finding]:
    """Compare each new located entry with its actor's nearest earlier and later ones.

    Every pair of an actor's consecutive entries is compared when the second of the two
    arrives, whatever the order of arrival; and a journey too fast between two entries is too
    fast on at least one leg between consecutive ones (the legs are no longer, in sum, than
    the distance and take exactly its time)."""
    located = [entry.entry_id for entry in new if entry.succeeded and entry.country]
    if not located:
        return []
    points = country_points()
    findings = []
    for entry, before, after in await ActivityRepository(session).neighbours(partner_id, located):
        for other in (before, after):
            if other is None:
                continue
            travel = impossible_travel(_activity(entry), _activity(other), rule, points)
            if travel is not None:
                findings.append(travel_finding(travel, rule))
    return findings


async def _mass_changes(
    session: AsyncSession, partner_id: uuid.UUID, new: Sequence[Activity], rule: MassChange
) -> list[Finding]:
    """Count each customer's creations and deletions in sliding windows around the new ones."""
    window = timedelta(minutes=rule.window_minutes)
    new_times: dict[uuid.UUID, dict[ChangeKind, list[datetime]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for entry in new:
        if entry.succeeded:
            for kind in change_kinds(entry.operation, rule):
                new_times[entry.customer_id][kind].append(entry.occurred_at)

    repository = ActivityRepository(session)
    fragments = (*rule.create_operations, *rule.delete_operations)
    findings = []
    for customer_id, by_kind in sorted(new_times.items()):
        moments = [at for times in by_kind.values() for at in times]
        changes = await repository.changes(
            partner_id, customer_id, fragments, min(moments) - window, max(moments) + window
        )
        for kind, fresh in sorted(by_kind.items()):
            times = [at for at, operation in changes if kind in change_kinds(operation, rule)]
            for crossing in mass_change_crossings(times, fresh, window, rule.threshold):
                findings.append(mass_change_finding(customer_id, kind, crossing, rule))
    return findings


# --- listing ----------------------------------------------------------------------------------


def encode_cursor(occurred_at: datetime, entry_id: str) -> str:
    raw = json.dumps({"at": occurred_at.isoformat(), "id": entry_id}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, entry_id = datetime.fromisoformat(body["at"]), body["id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("the cursor is not one this API issued") from exc
    if at.tzinfo is None or not isinstance(entry_id, str):
        raise BadRequest("the cursor is not one this API issued")
    return at, entry_id


def entry_out(entry: ActivityEntry) -> ActivityEntryOut:
    return ActivityEntryOut(
        entry_id=entry.entry_id,
        customer_id=entry.customer_id,
        actor=entry.actor,
        operation=entry.operation,
        resource=entry.resource,
        role=entry.role,
        ip=entry.ip,
        country=entry.country,
        result="success" if entry.result == "success" else "failure",
        occurred_at=entry.occurred_at,
        received_at=entry.received_at,
    )


async def list_activity(
    session: AsyncSession,
    partner_id: uuid.UUID,
    filters: ActivityFilters,
    *,
    limit: int,
    cursor: str | None,
) -> Page[ActivityEntryOut]:
    """A page of the partner's entries, newest first (by when they happened, then by id)."""
    before = decode_cursor(cursor) if cursor else None
    rows = await ActivityRepository(session).page(
        partner_id, filters, limit=limit + 1, before=before
    )
    shown = list(rows[:limit])
    more = len(rows) > limit
    next_cursor = encode_cursor(shown[-1].occurred_at, shown[-1].entry_id) if more else None
    return Page[ActivityEntryOut](items=[entry_out(e) for e in shown], next_cursor=next_cursor)
