"""The access gate's controls, as pure rules (no I/O): which required controls a customer misses
before being given full administrative access."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Control(StrEnum):
    """A control the gate can require."""

    MFA_ATTESTED = "mfa_attested"
    BUDGET_SET = "budget_set"
    PREPAYMENT_CLEARED = "prepayment_cleared"
    NO_ACTIVE_HOLD = "no_active_hold"
    ACCOUNT_AGE = "account_age"
    RISK_TIER = "risk_tier"


# Every control, in the order the answer lists what is missing.
ALL_CONTROLS: tuple[Control, ...] = tuple(Control)
DEFAULT_MIN_ACCOUNT_AGE_DAYS = 30
DEFAULT_ALLOWED_RISK_TIERS: tuple[str, ...] = ("low", "medium")


@dataclass(frozen=True)
class CustomerFacts:
    """What the registry knows of the customer, as the gate reads it."""

    mfa_attested: bool
    budget_set: bool
    prepayment_cleared: bool
    risk_tier: str | None
    approved_at: datetime | None
    # The reasons of the holds active on the customer or any of its subscriptions.
    active_hold_reasons: tuple[str, ...]


@dataclass(frozen=True)
class Requirements:
    controls: Collection[Control] = ALL_CONTROLS
    min_account_age_days: int = DEFAULT_MIN_ACCOUNT_AGE_DAYS
    allowed_risk_tiers: Collection[str] = DEFAULT_ALLOWED_RISK_TIERS


@dataclass(frozen=True)
class Missing:
    control: Control
    detail: str


def account_age_days(approved_at: datetime, now: datetime) -> int:
    """Whole days since approval (a customer approved 29 days and 23 hours ago is 29 days old)."""
    return (now - approved_at).days


def _missing(
    control: Control, facts: CustomerFacts, need: Requirements, now: datetime
) -> str | None:
    if control is Control.MFA_ATTESTED:
        return None if facts.mfa_attested else "multi-factor authentication is not attested"
    if control is Control.BUDGET_SET:
        return None if facts.budget_set else "no spending budget is set"
    if control is Control.PREPAYMENT_CLEARED:
        return None if facts.prepayment_cleared else "the prepayment has not cleared"
    if control is Control.NO_ACTIVE_HOLD:
        if not facts.active_hold_reasons:
            return None
        reasons = ", ".join(sorted(set(facts.active_hold_reasons)))
        return f"{len(facts.active_hold_reasons)} active hold(s): {reasons}"
    if control is Control.ACCOUNT_AGE:
        if facts.approved_at is None:
            return "the customer has no approval date"
        age = account_age_days(facts.approved_at, now)
        if age >= need.min_account_age_days:
            return None
        return f"the account is {age} days old; {need.min_account_age_days} are required"
    if facts.risk_tier is None:
        return "the customer has no risk tier"
    if facts.risk_tier in need.allowed_risk_tiers:
        return None
    allowed = ", ".join(sorted(need.allowed_risk_tiers)) or "none"
    return f"risk tier {facts.risk_tier} is not allowed (allowed: {allowed})"


def evaluate(facts: CustomerFacts, need: Requirements, now: datetime) -> list[Missing]:
    """Every required control the customer misses, in a stable order; [] means allow."""
    required: Sequence[Control] = [c for c in ALL_CONTROLS if c in need.controls]
    found = []
    for control in required:
        detail = _missing(control, facts, need, now)
        if detail is not None:
            found.append(Missing(control, detail))
    return found
