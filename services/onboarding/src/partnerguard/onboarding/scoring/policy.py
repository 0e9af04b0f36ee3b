"""A partner's risk policy: which signals weigh how much, and where the thresholds lie.

The policy is the body of ``PUT /v1/onboarding/risk-policy`` and is stored as JSONB with every
version, so it must stay plain JSON. ``RiskPolicy()`` is the default a partner starts with;
partial ``weights`` and ``velocity`` given by a partner are merged over the defaults, so after
validation every signal has a weight and every velocity key a limit.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.scoring.facts import VelocityKey


class SignalCode(StrEnum):
    """A risk signal the rules can fire; each has a weight in the policy."""

    DISPOSABLE_EMAIL = "disposable_email"
    FREE_EMAIL_WITH_COMPANY_DOMAIN = "free_email_with_company_domain"
    EMAIL_DOMAIN_MISMATCH = "email_domain_mismatch"
    PHONE_INVALID = "phone_invalid"
    PHONE_RISKY_LINE_TYPE = "phone_risky_line_type"
    PHONE_COUNTRY_MISMATCH = "phone_country_mismatch"
    IP_COUNTRY_MISMATCH = "ip_country_mismatch"
    HIGH_RISK_COUNTRY = "high_risk_country"
    PREPAID_INSTRUMENT = "prepaid_instrument"
    BIN_COUNTRY_MISMATCH = "bin_country_mismatch"
    VELOCITY_IP = "velocity_ip"
    VELOCITY_DEVICE = "velocity_device"
    VELOCITY_EMAIL_DOMAIN = "velocity_email_domain"
    VELOCITY_PHONE = "velocity_phone"
    VELOCITY_CARD_BIN = "velocity_card_bin"
    BOT_FAST_FORM = "bot_fast_form"
    BOT_USER_AGENT = "bot_user_agent"
    BLOCKLISTED = "blocklisted"
    ALLOWLISTED = "allowlisted"
    SANCTIONS_MATCH = "sanctions_match"
    SMS_VERIFICATION_FAILED = "sms_verification_failed"
    EMAIL_VERIFICATION_FAILED = "email_verification_failed"
    MFA_NOT_ENFORCED = "mfa_not_enforced"
    IDENTITY_FAILED = "identity_failed"
    IDENTITY_INCONCLUSIVE = "identity_inconclusive"
    CREDIT_FAILED = "credit_failed"
    CREDIT_INCONCLUSIVE = "credit_inconclusive"
    PHONE_CONTACT_FAILED = "phone_contact_failed"
    PHONE_CONTACT_CONFIRMED = "phone_contact_confirmed"


# Points per signal; the score is their sum clamped to 0..100. With the default thresholds
# (review 30, reject 70) one strong signal sends an application to review, and only several
# together (or a hard-reject signal) reject it. Negative weights are evidence of good faith.
DEFAULT_WEIGHTS: dict[SignalCode, int] = {
    SignalCode.DISPOSABLE_EMAIL: 35,
    SignalCode.FREE_EMAIL_WITH_COMPANY_DOMAIN: 10,
    SignalCode.EMAIL_DOMAIN_MISMATCH: 10,
    SignalCode.PHONE_INVALID: 25,
    SignalCode.PHONE_RISKY_LINE_TYPE: 15,
    SignalCode.PHONE_COUNTRY_MISMATCH: 10,
    SignalCode.IP_COUNTRY_MISMATCH: 10,
    SignalCode.HIGH_RISK_COUNTRY: 40,
    SignalCode.PREPAID_INSTRUMENT: 20,
    SignalCode.BIN_COUNTRY_MISMATCH: 15,
    SignalCode.VELOCITY_IP: 20,
    SignalCode.VELOCITY_DEVICE: 35,
    SignalCode.VELOCITY_EMAIL_DOMAIN: 15,
    SignalCode.VELOCITY_PHONE: 30,
    SignalCode.VELOCITY_CARD_BIN: 10,
    SignalCode.BOT_FAST_FORM: 20,
    SignalCode.BOT_USER_AGENT: 30,
    SignalCode.BLOCKLISTED: 100,
    SignalCode.ALLOWLISTED: -50,
    SignalCode.SANCTIONS_MATCH: 100,
    SignalCode.SMS_VERIFICATION_FAILED: 25,
    SignalCode.EMAIL_VERIFICATION_FAILED: 25,
    SignalCode.MFA_NOT_ENFORCED: 10,
    SignalCode.IDENTITY_FAILED: 50,
    SignalCode.IDENTITY_INCONCLUSIVE: 15,
    SignalCode.CREDIT_FAILED: 40,
    SignalCode.CREDIT_INCONCLUSIVE: 10,
    SignalCode.PHONE_CONTACT_FAILED: 30,
    SignalCode.PHONE_CONTACT_CONFIRMED: -30,
}

# A starting point only, not legal advice: the FATF "high-risk jurisdictions subject to a call
# for action" (KP, IR, MM) plus jurisdictions under broad EU/US sanctions programmes (SY, CU, RU,
# BY), as of 2025. Both lists change several times a year; the partner maintains its own copy.
DEFAULT_HIGH_RISK_COUNTRIES: frozenset[str] = frozenset({"KP", "IR", "MM", "SY", "CU", "RU", "BY"})

# Automation tools and HTTP libraries announce themselves; a person's browser never says these.
DEFAULT_BOT_USER_AGENT_PATTERNS: tuple[str, ...] = (
    r"headless",
    r"selenium",
    r"webdriver",
    r"puppeteer",
    r"playwright",
    r"phantomjs",
    r"python-requests",
    r"python-urllib",
    r"aiohttp",
    r"curl/",
    r"wget/",
    r"http-?client",
    r"okhttp",
    r"scrapy",
    r"\bbot\b",
    r"crawler",
    r"spider",
)

# Names of phonenumbers.PhoneNumberType, lower case.
PhoneLineType = Literal[
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
VerificationKind = Literal["sms", "email", "mfa"]
Funding = Literal["credit", "debit", "prepaid", "stored_value"]

# Lines anyone can get anonymously or that do not reach a person (a number "for" something).
# fixed_line_or_mobile is fine: some countries do not tell the two apart by number.
DEFAULT_RISKY_LINE_TYPES: frozenset[PhoneLineType] = frozenset(
    {"voip", "premium_rate", "pager", "uan", "personal_number", "unknown"}
)
DEFAULT_REQUIRED_VERIFICATIONS: frozenset[VerificationKind] = frozenset({"sms", "email"})


def _normalize_country(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


Country = Annotated[
    str,
    BeforeValidator(_normalize_country),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code (stored upper case).", examples=["DE"]),
]
Weight = Annotated[int, Field(ge=-100, le=100)]


class VelocityLimit(BaseModel):
    """How many other applications may share one key within a window before the signal fires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: int = Field(ge=1, le=10080, description="Look-back window, up to 7 days.")
    max_count: int = Field(
        ge=0,
        description="Other applications sharing the key within the window allowed; more fire.",
    )


DEFAULT_VELOCITY: dict[VelocityKey, VelocityLimit] = {
    VelocityKey.IP: VelocityLimit(window_minutes=60, max_count=5),
    VelocityKey.DEVICE: VelocityLimit(window_minutes=60, max_count=3),
    VelocityKey.EMAIL_DOMAIN: VelocityLimit(window_minutes=60, max_count=10),
    VelocityKey.PHONE: VelocityLimit(window_minutes=1440, max_count=2),
    VelocityKey.CARD_BIN: VelocityLimit(window_minutes=60, max_count=30),
}


class BinRange(BaseModel):
    """What the partner knows about a range of cards: funding type and issuing country."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = Field(
        pattern=r"^[0-9]{6,8}$",
        description="Leading 6 to 8 card digits; the longest matching prefix wins.",
        examples=["411111"],
    )
    funding: Funding
    country: Country | None = None


class RiskPolicy(BaseModel):
    """A partner's scoring rules. ``RiskPolicy()`` is the built-in default."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[SignalCode, Weight] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description=(
            "Points each fired signal adds to the score (-100..100). Signals left out keep "
            "their default weight."
        ),
    )
    review_threshold: int = Field(
        default=30, ge=0, le=100, description="A score at or above this goes to manual review."
    )
    reject_threshold: int = Field(
        default=70, ge=0, le=100, description="A score at or above this is rejected."
    )
    hard_reject: set[SignalCode] = Field(
        default_factory=lambda: {SignalCode.BLOCKLISTED, SignalCode.SANCTIONS_MATCH},
        description="Signals that reject an application on their own, whatever the score.",
    )
    high_risk_countries: set[Country] = Field(
        default_factory=lambda: set(DEFAULT_HIGH_RISK_COUNTRIES),
        description=(
            "Countries (ISO alpha-2) that fire high_risk_country when the company, the IP "
            "address or the phone number is located there. Maintained by the partner."
        ),
    )
    velocity: dict[VelocityKey, VelocityLimit] = Field(
        default_factory=lambda: dict(DEFAULT_VELOCITY),
        description="Velocity limit per key. Keys left out keep their default limit.",
    )
    min_form_seconds: float = Field(
        default=8.0,
        ge=0,
        description="Filling the form faster than this fires bot_fast_form.",
    )
    bot_user_agent_patterns: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=lambda: list(DEFAULT_BOT_USER_AGENT_PATTERNS),
        max_length=100,
        description="Case-insensitive regular expressions; a matching user agent fires bot_user_agent.",
    )
    bin_table: list[BinRange] = Field(
        default_factory=list,
        description="The partner's card ranges (funding type, issuing country).",
    )
    risky_phone_line_types: set[PhoneLineType] = Field(
        default_factory=lambda: set(DEFAULT_RISKY_LINE_TYPES),
        description="Phone line types that fire phone_risky_line_type.",
    )
    medium_tier_from: int = Field(
        default=15, ge=0, le=100, description="Scores from here get the medium risk tier."
    )
    high_tier_from: int = Field(
        default=40, ge=0, le=100, description="Scores from here get the high risk tier."
    )
    prepayment_tiers: set[RiskTier] = Field(
        default_factory=lambda: {RiskTier.MEDIUM, RiskTier.HIGH},
        description="Risk tiers that must pay in advance.",
    )
    required_verifications: set[VerificationKind] = Field(
        default_factory=lambda: set(DEFAULT_REQUIRED_VERIFICATIONS),
        description="Verifications the service requests for every application.",
    )

    @field_validator("weights", mode="after")
    @classmethod
    def _merge_weights(cls, value: dict[SignalCode, int]) -> dict[SignalCode, int]:
        return {**DEFAULT_WEIGHTS, **value}

    @field_validator("velocity", mode="after")
    @classmethod
    def _merge_velocity(
        cls, value: dict[VelocityKey, VelocityLimit]
    ) -> dict[VelocityKey, VelocityLimit]:
        return {**DEFAULT_VELOCITY, **value}

    @field_validator("bot_user_agent_patterns", mode="after")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as error:
                raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
        return value

    @field_validator("bin_table", mode="after")
    @classmethod
    def _prefixes_unique(cls, value: list[BinRange]) -> list[BinRange]:
        counts = Counter(entry.prefix for entry in value)
        duplicates = sorted(prefix for prefix, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate BIN prefixes: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.review_threshold >= self.reject_threshold:
            raise ValueError("review_threshold must be below reject_threshold")
        if self.medium_tier_from > self.high_tier_from:
            raise ValueError("medium_tier_from must not exceed high_tier_from")
        return self

    # Sets serialize sorted so that the stored JSON of a policy does not depend on hash order.
    @field_serializer(
        "hard_reject",
        "high_risk_countries",
        "risky_phone_line_types",
        "prepayment_tiers",
        "required_verifications",
        when_used="json",
    )
    def _sorted(self, value: set[str]) -> list[str]:
        return sorted(value)
