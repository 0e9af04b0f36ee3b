"""Scores one application's facts under a partner's policy: a pure function, no I/O."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.scoring.facts import Facts
from partnerguard.onboarding.scoring.policy import DEFAULT_WEIGHTS, RiskPolicy
from partnerguard.onboarding.scoring.signals import evaluate_signals


class Outcome(StrEnum):
    """What the rules decide; listed from mildest to harshest."""

    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"


class Reason(BaseModel):
    """One fired signal: its code, why it fired and what it weighed."""

    model_config = ConfigDict(frozen=True)

    code: str
    detail: str
    points: int
    hard: bool = Field(default=False, description="The signal rejects on its own.")


class Assessment(BaseModel):
    """The result of scoring an application: the outcome and everything behind it."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=100)
    outcome: Outcome
    reasons: tuple[Reason, ...] = Field(
        description="Every fired signal, hard-reject ones first, then by points descending."
    )
    hard_reject: bool
    risk_tier: RiskTier
    prepayment_required: bool


def _reason_order(reason: Reason) -> tuple[bool, int, str]:
    return (not reason.hard, -reason.points, reason.code)


def risk_tier_for(score: int, policy: RiskPolicy) -> RiskTier:
    """The tier a score earns under the policy."""
    if score >= policy.high_tier_from:
        return RiskTier.HIGH
    if score >= policy.medium_tier_from:
        return RiskTier.MEDIUM
    return RiskTier.LOW


def score_application(facts: Facts, policy: RiskPolicy) -> Assessment:
    """Fire the signals, add up their weights (clamped to 0..100) and decide the outcome.

    A fired hard-reject signal rejects whatever the score; otherwise the thresholds decide.
    """
    fired = evaluate_signals(facts, policy)
    reasons = sorted(
        (
            Reason(
                code=signal.code,
                detail=signal.detail,
                # Validation fills every weight; .get guards a policy built with model_copy.
                points=policy.weights.get(signal.code, DEFAULT_WEIGHTS[signal.code]),
                hard=signal.code in policy.hard_reject,
            )
            for signal in fired
        ),
        key=_reason_order,
    )
    score = min(max(sum(reason.points for reason in reasons), 0), 100)
    hard_reject = any(reason.hard for reason in reasons)
    if hard_reject or score >= policy.reject_threshold:
        outcome = Outcome.REJECT
    elif score >= policy.review_threshold:
        outcome = Outcome.REVIEW
    else:
        outcome = Outcome.APPROVE
    tier = risk_tier_for(score, policy)
    return Assessment(
        score=score,
        outcome=outcome,
        reasons=tuple(reasons),
        hard_reject=hard_reject,
        risk_tier=tier,
        prepayment_required=tier in policy.prepayment_tiers,
    )
