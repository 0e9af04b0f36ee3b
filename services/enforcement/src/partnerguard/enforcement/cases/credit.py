"""The one-time compromise credit, as pure rules (no I/O).

The vendor grants one credit per customer tenant for a verified account compromise, for
new-commerce subscriptions only, when the fraudulent activity started on or after 2023-04-01
and the request is filed within 60 calendar days of the first usage date of that activity,
whenever it was discovered.

Deadline convention: the first usage date is day 0 and the deadline is day 60
(``first_usage + 60 days``). Filing on any date up to and including the deadline is in time;
the day after (day 61) is late. All dates are calendar dates in UTC.

The credit clock reminds at thresholds of days left (30, 7 and 1 by default), once each. A
sweep that missed days sends only the tightest threshold reached, never a burst of the looser
ones it slept through: an operator needs the current urgency, not its history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from partnerguard.common.events.types.enforcement import CaseKind

# Fraudulent activity that started before this date is outside the vendor's credit program.
PROGRAM_START = date(2023, 4, 1)
# Calendar days after the first usage date within which the request must be filed.
FILING_WINDOW_DAYS = 60
NEW_COMMERCE = "new_commerce"


class Ineligibility(StrEnum):
    """Why the one-time credit cannot be requested."""

    NOT_ACCOUNT_COMPROMISE = "not_account_compromise"
    NOT_VERIFIED = "compromise_not_verified"
    CASE_CLOSED = "case_closed"
    TENANT_UNKNOWN = "vendor_tenant_unknown"
    FIRST_USAGE_UNKNOWN = "first_fraudulent_usage_unknown"
    BEFORE_PROGRAM = "activity_before_2023_04_01"
    WINDOW_CLOSED = "filing_window_closed"
    NO_NEW_COMMERCE = "no_new_commerce_subscription"
    LEGACY_SUBSCRIPTION = "legacy_subscription"
    ALREADY_REQUESTED = "credit_already_requested_for_tenant"


EXPLANATIONS: dict[Ineligibility, str] = {
    Ineligibility.NOT_ACCOUNT_COMPROMISE: "only account-compromise cases qualify",
    Ineligibility.NOT_VERIFIED: "the compromise has not been verified",
    Ineligibility.CASE_CLOSED: "the case is closed",
    Ineligibility.TENANT_UNKNOWN: "the customer's vendor tenant ID is unknown",
    Ineligibility.FIRST_USAGE_UNKNOWN: "the first usage date of the fraudulent activity is not set",
    Ineligibility.BEFORE_PROGRAM: "the fraudulent activity started before 2023-04-01",
    Ineligibility.WINDOW_CLOSED: "the 60-day filing window has closed",
    Ineligibility.NO_NEW_COMMERCE: "the customer has no new-commerce subscription",
    Ineligibility.LEGACY_SUBSCRIPTION: "legacy subscriptions do not qualify",
    Ineligibility.ALREADY_REQUESTED: "the credit was already requested for this customer tenant",
}


@dataclass(frozen=True)
class CreditFacts:
    """What the rules look at. ``commerce`` is the commerce type of each subscription concerned;
    None when none was chosen yet (the case view), which skips the subscription rule."""

    kind: CaseKind
    verified: bool
    case_open: bool
    tenant_known: bool
    first_usage_on: date | None
    commerce: tuple[str, ...] | None
    already_requested: bool


def credit_deadline(first_usage_on: date) -> date:
    """The last day on which the request may be filed (day 60, counting the first usage as day 0)."""
    return first_usage_on + timedelta(days=FILING_WINDOW_DAYS)


def deadline_for(kind: CaseKind, first_usage_on: date | None) -> date | None:
    """The case's credit deadline: only compromises within the program have one."""
    if kind is not CaseKind.ACCOUNT_COMPROMISE or first_usage_on is None:
        return None
    if first_usage_on < PROGRAM_START:
        return None
    return credit_deadline(first_usage_on)


def filed_in_time(first_usage_on: date, filed_on: date) -> bool:
    """Whether a request filed on ``filed_on`` is within the window (the deadline day included)."""
    return filed_on <= credit_deadline(first_usage_on)


def ineligibility(facts: CreditFacts, today: date) -> list[Ineligibility]:
    """Every reason the credit cannot be requested on ``today``, in a stable order; [] if it can."""
    reasons: list[Ineligibility] = []
    if facts.kind is not CaseKind.ACCOUNT_COMPROMISE:
        reasons.append(Ineligibility.NOT_ACCOUNT_COMPROMISE)
    elif not facts.verified:
        reasons.append(Ineligibility.NOT_VERIFIED)
    if not facts.case_open:
        reasons.append(Ineligibility.CASE_CLOSED)
    if not facts.tenant_known:
        reasons.append(Ineligibility.TENANT_UNKNOWN)
    if facts.first_usage_on is None:
        reasons.append(Ineligibility.FIRST_USAGE_UNKNOWN)
    elif facts.first_usage_on < PROGRAM_START:
        reasons.append(Ineligibility.BEFORE_PROGRAM)
    elif not filed_in_time(facts.first_usage_on, today):
        reasons.append(Ineligibility.WINDOW_CLOSED)
    if facts.commerce is not None:
        if any(kind != NEW_COMMERCE for kind in facts.commerce):
            reasons.append(Ineligibility.LEGACY_SUBSCRIPTION)
        elif not facts.commerce:
            reasons.append(Ineligibility.NO_NEW_COMMERCE)
    if facts.already_requested:
        reasons.append(Ineligibility.ALREADY_REQUESTED)
    return reasons


def days_left(deadline: date, today: date) -> int:
    """Calendar days from ``today`` to the deadline: 0 on the deadline day, negative after."""
    return (deadline - today).days


def reminder_due(days_left: int, thresholds: Iterable[int], sent: Collection[int]) -> int | None:
    """The reminder to send now: the tightest threshold reached (``days_left <= threshold``), if
    it was not sent yet; None once the deadline has passed or nothing new is reached."""
    if days_left < 0:
        return None
    reached = [threshold for threshold in thresholds if days_left <= threshold]
    if not reached:
        return None
    tightest = min(reached)
    return None if tightest in sent else tightest
