"""The onboarding risk-scoring rules: facts and a partner's policy in, an assessment out (no I/O)."""

from partnerguard.onboarding.scoring.engine import (
    Assessment,
    Outcome,
    Reason,
    risk_tier_for,
    score_application,
)
from partnerguard.onboarding.scoring.facts import (
    CheckResult,
    Facts,
    InstrumentType,
    ListHit,
    ListKind,
    ListName,
    SanctionsHit,
    VelocityKey,
)
from partnerguard.onboarding.scoring.policy import (
    DEFAULT_WEIGHTS,
    BinRange,
    RiskPolicy,
    SignalCode,
    VelocityLimit,
)
from partnerguard.onboarding.scoring.replay import (
    Change,
    ReplayItem,
    ReplayReport,
    Transition,
    replay_policy,
)
from partnerguard.onboarding.scoring.signals import (
    Fired,
    evaluate_signals,
    is_disposable_email_domain,
    is_free_email_domain,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "Assessment",
    "BinRange",
    "Change",
    "CheckResult",
    "Facts",
    "Fired",
    "InstrumentType",
    "ListHit",
    "ListKind",
    "ListName",
    "Outcome",
    "Reason",
    "ReplayItem",
    "ReplayReport",
    "RiskPolicy",
    "SanctionsHit",
    "SignalCode",
    "Transition",
    "VelocityKey",
    "VelocityLimit",
    "evaluate_signals",
    "is_disposable_email_domain",
    "is_free_email_domain",
    "replay_policy",
    "risk_tier_for",
    "score_application",
]
