"""Payment instruments: classify by type and BIN range, refuse by the partner's policy, record.

A refused instrument is stored all the same (status ``rejected``, with its reason): the record
is the evidence of what the customer tried to pay with, and ``billing.instrument.rejected``
tells integrators. An accepted one may clear the account's prepayment gate.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.accounts.events import tell
from partnerguard.billing.accounts.gate import try_clear
from partnerguard.billing.accounts.service import get_account, lock_account
from partnerguard.billing.instruments.bins import (
    BinEntry,
    BinTable,
    BinTableError,
    Classification,
    Funding,
    Layer,
    classify,
    default_table,
    operator_table,
    prefixes_of,
    table_of,
)
from partnerguard.billing.instruments.classes import event_instrument_type
from partnerguard.billing.instruments.policy import (
    DEFAULT_RULES,
    CustomerException,
    InstrumentRules,
    classes,
    refusal_of,
)
from partnerguard.billing.instruments.repository import (
    BinRangeRepository,
    InstrumentPolicyRepository,
    InstrumentRepository,
)
from partnerguard.billing.instruments.schemas import (
    BinRangeIn,
    InstrumentIn,
    InstrumentPolicyIn,
    InstrumentStatus,
)
from partnerguard.billing.models import (
    Account,
    BinRange,
    Instrument,
    InstrumentClass,
    InstrumentPolicy,
)
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.errors import Conflict, NotFound, ServiceUnavailable
from partnerguard.common.events.types.billing import InstrumentRejected

log = structlog.get_logger()


# --- registration -------------------------------------------------------------------------------


async def register_instrument(
    session: AsyncSession,
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    body: InstrumentIn,
    settings: BillingSettings,
    now: datetime,
) -> tuple[Instrument, Account]:
    """Classify, judge and store an instrument; a refusal is stored as ``rejected`` and emits
    ``billing.instrument.rejected``, an acceptance may clear the account."""
    account = await lock_account(session, partner_id, account_id)
    declared = body.type
    classification = await _classify(session, partner_id, declared, body.card_bin, settings)
    match = classification.match
    rules = await rules_in_force(session, partner_id)
    refusal = refusal_of(classification.instrument_class, account.customer_id, rules, now.date())
    instrument = await InstrumentRepository(session).add(
        Instrument(
            partner_id=partner_id,
            account_id=account.id,
            instrument_class=classification.instrument_class.value,
            declared_class=declared.value,
            card_bin=body.card_bin,
            # Bank debit keeps the IBAN's last 4 in the same column: the model has one "last 4".
            last4=body.card_last4 or body.iban_last4,
            card_brand=body.brand or (match.entry.brand if match else None),
            country=body.country or (match.entry.country if match else None),
            holder_name=body.holder_name,
            status=(InstrumentStatus.REJECTED if refusal else InstrumentStatus.ACCEPTED).value,
            rejection_reason=refusal.reason.value if refusal else None,
            rejection_detail=refusal.detail if refusal else None,
            classified_by=match.classified_by if match else None,
        )
    )
    log.info(
        "instrument.registered",
        instrument_id=str(instrument.id),
        account_id=str(account.id),
        instrument_class=instrument.instrument_class,
        declared_class=instrument.declared_class,
        classified_by=instrument.classified_by,
        status=instrument.status,
    )
    if refusal is not None:
        await tell(
            session,
            account,
            InstrumentRejected(
                account_id=account.id,
                customer_id=account.customer_id,
                instrument_type=event_instrument_type(classification.instrument_class),
                reason=refusal.reason,
                detail=refusal.detail,
                rejected_at=now,
            ),
            subject=account.id,
        )
    else:
        await try_clear(session, account, now)
    return instrument, account


async def _classify(
    session: AsyncSession,
    partner_id: uuid.UUID,
    declared: InstrumentClass,
    card_bin: str | None,
    settings: BillingSettings,
) -> Classification:
    if card_bin is None:
        return classify(declared, None, {})
    return classify(declared, card_bin, await bin_layers(session, partner_id, card_bin, settings))


async def bin_layers(
    session: AsyncSession, partner_id: uuid.UUID, card_bin: str, settings: BillingSettings
) -> Mapping[Layer, BinTable]:
    """The three tables a card's BIN is looked up in; of the partner's, only matching ranges."""
    partner_rows = await BinRangeRepository(session).matching(partner_id, prefixes_of(card_bin))
    layers: dict[Layer, BinTable] = {
        Layer.DEFAULT: default_table(),
        Layer.PARTNER: table_of(_entry(row) for row in partner_rows),
    }
    if settings.bin_table_path:
        try:
            # Read once per process, off the event loop; a table that cannot be read refuses
            # the registration rather than classifying without it (prepaid cards would pass).
            layers[Layer.OPERATOR] = await asyncio.to_thread(
                operator_table, settings.bin_table_path
            )
        except BinTableError as exc:
            log.error("instrument.bin_table_unusable", error=str(exc))
            raise ServiceUnavailable(
                "the operator's BIN table cannot be used; instruments cannot be classified"
            ) from exc
    return layers


def _entry(row: BinRange) -> BinEntry:
    return BinEntry(row.prefix, Funding(row.funding), row.brand, row.country)


# --- reading and removing -----------------------------------------------------------------------


async def get_instrument(
    session: AsyncSession, partner_id: uuid.UUID, account_id: uuid.UUID, id_: uuid.UUID
) -> tuple[Instrument, Account]:
    account = await get_account(session, partner_id, account_id)
    instrument = await InstrumentRepository(session).of_account(partner_id, account.id, id_)
    if instrument is None:
        raise NotFound("no such payment instrument")
    return instrument, account


async def list_instruments(
    session: AsyncSession,
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    status: InstrumentStatus | None,
    limit: int,
    after: uuid.UUID | None,
) -> tuple[Sequence[Instrument], Account]:
    account = await get_account(session, partner_id, account_id)
    rows = await InstrumentRepository(session).page(
        partner_id,
        account.id,
        status=status.value if status else None,
        limit=limit,
        after=after,
    )
    return rows, account


async def remove_instrument(
    session: AsyncSession,
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    id_: uuid.UUID,
    now: datetime,
) -> tuple[Instrument, Account]:
    """Mark an accepted instrument removed (again: no change). A rejected one is evidence of
    what the customer tried to pay with and stays as it is (``Conflict``). Removal does not
    undo a clearance already granted."""
    instrument, account = await get_instrument(session, partner_id, account_id, id_)
    if instrument.status == InstrumentStatus.REJECTED:
        raise Conflict("a rejected instrument is kept as evidence and cannot be removed")
    if instrument.status == InstrumentStatus.ACCEPTED:
        instrument.status = InstrumentStatus.REMOVED.value
        instrument.removed_at = now
        await session.flush()
        log.info("instrument.removed", instrument_id=str(instrument.id), account_id=str(account.id))
    return instrument, account


# --- the partner's BIN ranges -------------------------------------------------------------------


async def add_bin_range(session: AsyncSession, partner_id: uuid.UUID, body: BinRangeIn) -> BinRange:
    """Add a range; ``Conflict`` when the partner already lists the prefix."""
    row = await BinRangeRepository(session).insert_new(
        {
            "partner_id": partner_id,
            "prefix": body.prefix,
            "funding": body.funding.value,
            "brand": body.brand,
            "country": body.country,
            "note": body.note,
        }
    )
    if row is None:
        raise Conflict(f"a range for prefix {body.prefix} exists; delete it first to change it")
    log.info("bin_range.added", bin_range_id=str(row.id), prefix=row.prefix, funding=row.funding)
    return row


async def list_bin_ranges(
    session: AsyncSession, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> Sequence[BinRange]:
    return await BinRangeRepository(session).page(partner_id, limit=limit, after=after)


async def remove_bin_range(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> None:
    if not await BinRangeRepository(session).remove(partner_id, id_):
        raise NotFound("no such BIN range")
    log.info("bin_range.removed", bin_range_id=str(id_))


# --- the instrument policy ----------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInForce:
    rules: InstrumentRules
    row: InstrumentPolicy | None


async def policy_in_force(session: AsyncSession, partner_id: uuid.UUID) -> PolicyInForce:
    """The partner's saved policy, or the default (prepaid cards and stored value refused)."""
    row = await InstrumentPolicyRepository(session).of_partner(partner_id)
    if row is None:
        return PolicyInForce(DEFAULT_RULES, None)
    return PolicyInForce(_rules(row), row)


async def rules_in_force(session: AsyncSession, partner_id: uuid.UUID) -> InstrumentRules:
    return (await policy_in_force(session, partner_id)).rules


async def save_policy(
    session: AsyncSession, partner_id: uuid.UUID, body: InstrumentPolicyIn, actor: str
) -> PolicyInForce:
    """Replace the partner's policy; it judges instruments registered from now on."""
    row = await InstrumentPolicyRepository(session).save(
        partner_id,
        refused=sorted({value.value for value in body.refused}),
        exceptions=[exception.model_dump(mode="json") for exception in body.exceptions],
        updated_by=actor,
    )
    log.info(
        "instrument_policy.saved",
        refused=row.refused,
        exceptions=len(row.exceptions),
        updated_by=actor,
    )
    return PolicyInForce(_rules(row), row)


def _rules(row: InstrumentPolicy) -> InstrumentRules:
    return InstrumentRules(
        refused=classes(row.refused),
        exceptions=tuple(
            CustomerException(
                customer_id=uuid.UUID(str(item["customer_id"])),
                allow=classes(item["allow"]),
                reason=str(item["reason"]),
                expires_on=date.fromisoformat(item["expires_on"])
                if item.get("expires_on")
                else None,
            )
            for item in row.exceptions
        ),
    )
