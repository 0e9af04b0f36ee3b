"""The instrument refusal rule: which classes a partner refuses, and for whom it makes exceptions.

Pure: the service loads the partner's policy and asks :func:`refusal_of` about one instrument.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from partnerguard.billing.models import InstrumentClass
from partnerguard.common.events.types.billing import InstrumentRejection

# Prepaid cards and stored value are the classic vehicles of theft of cloud service: bought
# with cash or stolen money, untraceable, and empty by the time the invoice is due.
DEFAULT_REFUSED = frozenset({InstrumentClass.PREPAID_CARD, InstrumentClass.STORED_VALUE})

_REASONS = {
    InstrumentClass.PREPAID_CARD: InstrumentRejection.PREPAID_CARD,
    InstrumentClass.STORED_VALUE: InstrumentRejection.STORED_VALUE,
}

_DETAILS = {
    InstrumentClass.PREPAID_CARD: "Prepaid cards are not accepted: the card's BIN range or its "
    "declared type makes it prepaid.",
    InstrumentClass.STORED_VALUE: "Stored-value instruments (gift cards, e-wallet balances) are "
    "not accepted.",
}


@dataclass(frozen=True)
class CustomerException:
    """Classes allowed for one customer despite the policy, until ``expires_on`` (inclusive)."""

    customer_id: uuid.UUID
    allow: frozenset[InstrumentClass]
    reason: str
    expires_on: date | None = None

    def applies(self, customer_id: uuid.UUID, today: date) -> bool:
        return self.customer_id == customer_id and (
            self.expires_on is None or today <= self.expires_on
        )


@dataclass(frozen=True)
class InstrumentRules:
    refused: frozenset[InstrumentClass] = DEFAULT_REFUSED
    exceptions: tuple[CustomerException, ...] = field(default_factory=tuple)


DEFAULT_RULES = InstrumentRules()


@dataclass(frozen=True)
class Refusal:
    reason: InstrumentRejection
    detail: str


def allowed_for(
    rules: InstrumentRules, customer_id: uuid.UUID, today: date
) -> set[InstrumentClass]:
    """Classes the customer's unexpired exceptions allow on ``today``."""
    allowed: set[InstrumentClass] = set()
    for exception in rules.exceptions:
        if exception.applies(customer_id, today):
            allowed |= exception.allow
    return allowed


def refusal_of(
    instrument_class: InstrumentClass, customer_id: uuid.UUID, rules: InstrumentRules, today: date
) -> Refusal | None:
    """Why ``rules`` refuse this class for this customer on ``today``; None when they accept it."""
    if instrument_class not in rules.refused:
        return None
    if instrument_class in allowed_for(rules, customer_id, today):
        return None
    # The event's reasons name only the classic high-risk classes; any other class a partner
    # chooses to refuse is reported as policy_refused, with the class spelled out in the detail.
    reason = _REASONS.get(instrument_class, InstrumentRejection.POLICY_REFUSED)
    detail = _DETAILS.get(
        instrument_class,
        f"The partner's instrument policy does not accept {instrument_class.value} instruments.",
    )
    return Refusal(reason, detail)


def classes(values: Iterable[str]) -> frozenset[InstrumentClass]:
    return frozenset(InstrumentClass(value) for value in values)
