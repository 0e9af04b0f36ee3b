"""Each risk signal, firing and not firing, on otherwise clean facts."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest

from partnerguard.onboarding.scoring import (
    BinRange,
    CheckResult,
    Facts,
    InstrumentType,
    ListHit,
    ListKind,
    ListName,
    RiskPolicy,
    SanctionsHit,
    SignalCode,
    VelocityKey,
    evaluate_signals,
    is_free_email_domain,
)

# Sample numbers, checked against phonenumbers in test_sample_phone_numbers_are_what_they_claim.
GB_FIXED = "+442079460000"
GB_MOBILE = "+447400123456"
GB_VOIP = "+445612345678"
GB_PREMIUM = "+448712345678"
DE_FIXED = "+4930901820"
US_FIXED_OR_MOBILE = "+12025550100"
IR_FIXED = "+982112345678"

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def make_facts(**changes: Any) -> Facts:
    """A clean British company applying from Britain with its own domain and phone."""
    values: dict[str, Any] = {
        "company_country": "GB",
        "company_domain": "acme.co.uk",
        "contact_email": "jane.doe@acme.co.uk",
        "contact_phone": GB_FIXED,
        "ip_country": "GB",
        "user_agent": CHROME,
        "form_fill_seconds": 95.0,
        "instrument_type": InstrumentType.CREDIT_CARD,
    }
    values.update(changes)
    return Facts(**values)


def fired(facts: Facts, policy: RiskPolicy | None = None) -> dict[SignalCode, str]:
    return {
        signal.code: signal.detail for signal in evaluate_signals(facts, policy or RiskPolicy())
    }


@pytest.mark.parametrize(
    ("number", "region", "line_type"),
    [
        (GB_FIXED, "GB", phonenumbers.PhoneNumberType.FIXED_LINE),
        (GB_MOBILE, "GB", phonenumbers.PhoneNumberType.MOBILE),
        (GB_VOIP, "GB", phonenumbers.PhoneNumberType.VOIP),
        (GB_PREMIUM, "GB", phonenumbers.PhoneNumberType.PREMIUM_RATE),
        (DE_FIXED, "DE", phonenumbers.PhoneNumberType.FIXED_LINE),
        (US_FIXED_OR_MOBILE, "US", phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE),
        (IR_FIXED, "IR", phonenumbers.PhoneNumberType.FIXED_LINE),
    ],
)
def test_sample_phone_numbers_are_what_they_claim(number: str, region: str, line_type: int) -> None:
    parsed = phonenumbers.parse(number, None)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.region_code_for_number(parsed) == region
    assert phonenumbers.number_type(parsed) == line_type


def test_clean_facts_fire_nothing() -> None:
    assert fired(make_facts()) == {}


# --- e-mail ---


def test_disposable_email_fires_for_a_throwaway_domain() -> None:
    signals = fired(make_facts(contact_email="x@mailinator.com"))
    assert "mailinator.com" in signals[SignalCode.DISPOSABLE_EMAIL]


def test_disposable_email_fires_for_a_subdomain_of_a_throwaway_domain() -> None:
    assert SignalCode.DISPOSABLE_EMAIL in fired(make_facts(contact_email="x@inbox.mailinator.com"))


def test_disposable_email_wins_over_free_email() -> None:
    # mailinator.com is on both lists; it is judged disposable only.
    assert is_free_email_domain("mailinator.com")
    signals = fired(make_facts(contact_email="x@mailinator.com"))
    assert SignalCode.FREE_EMAIL_WITH_COMPANY_DOMAIN not in signals
    assert SignalCode.EMAIL_DOMAIN_MISMATCH not in signals


def test_disposable_email_does_not_fire_for_a_company_domain() -> None:
    assert SignalCode.DISPOSABLE_EMAIL not in fired(make_facts())


def test_free_email_with_company_domain_fires_for_gmail_when_the_company_has_a_domain() -> None:
    signals = fired(make_facts(contact_email="jane@gmail.com"))
    assert set(signals) == {SignalCode.FREE_EMAIL_WITH_COMPANY_DOMAIN}
    assert "gmail.com" in signals[SignalCode.FREE_EMAIL_WITH_COMPANY_DOMAIN]


def test_free_email_does_not_fire_without_a_company_domain() -> None:
    assert fired(make_facts(contact_email="jane@gmail.com", company_domain=None)) == {}


def test_email_domain_mismatch_fires_for_another_companys_domain() -> None:
    signals = fired(make_facts(contact_email="jane@other-corp.com"))
    assert "other-corp.com" in signals[SignalCode.EMAIL_DOMAIN_MISMATCH]


def test_email_domain_mismatch_does_not_fire_for_a_subdomain_of_the_company() -> None:
    assert fired(make_facts(contact_email="jane@uk.acme.co.uk")) == {}


def test_email_domain_mismatch_ignores_case_and_www_prefix() -> None:
    facts = make_facts(contact_email="Jane@ACME.co.uk", company_domain="www.Acme.co.uk")
    assert fired(facts) == {}


def test_email_domain_mismatch_does_not_fire_without_a_company_domain() -> None:
    assert fired(make_facts(contact_email="jane@other-corp.com", company_domain=None)) == {}


# --- phone ---


@pytest.mark.parametrize("number", ["+15555555555", "02079460000", "not a phone", ""])
def test_phone_invalid_fires_for_unparseable_invalid_or_national_numbers(number: str) -> None:
    assert SignalCode.PHONE_INVALID in fired(make_facts(contact_phone=number))


def test_phone_invalid_does_not_fire_for_a_valid_international_number() -> None:
    assert SignalCode.PHONE_INVALID not in fired(make_facts(contact_phone=GB_MOBILE))


@pytest.mark.parametrize(("number", "line"), [(GB_VOIP, "voip"), (GB_PREMIUM, "premium rate")])
def test_phone_risky_line_type_fires_for_voip_and_premium_rate(number: str, line: str) -> None:
    signals = fired(make_facts(contact_phone=number))
    assert line in signals[SignalCode.PHONE_RISKY_LINE_TYPE]


def test_phone_risky_line_type_does_not_fire_for_fixed_line_or_mobile() -> None:
    facts = make_facts(company_country="US", ip_country="US", contact_phone=US_FIXED_OR_MOBILE)
    assert fired(facts) == {}


def test_phone_risky_line_type_follows_the_policy() -> None:
    policy = RiskPolicy(risky_phone_line_types={"mobile"})
    assert SignalCode.PHONE_RISKY_LINE_TYPE in fired(make_facts(contact_phone=GB_MOBILE), policy)
    assert SignalCode.PHONE_RISKY_LINE_TYPE not in fired(make_facts(contact_phone=GB_VOIP), policy)


def test_phone_country_mismatch_fires_for_a_foreign_number() -> None:
    signals = fired(make_facts(contact_phone=DE_FIXED))
    assert signals[SignalCode.PHONE_COUNTRY_MISMATCH] == (
        "Phone number is from DE, the company is in GB."
    )


def test_phone_country_mismatch_does_not_fire_for_a_number_of_the_company_country() -> None:
    assert SignalCode.PHONE_COUNTRY_MISMATCH not in fired(make_facts(contact_phone=GB_MOBILE))


# --- countries ---


def test_ip_country_mismatch_fires_for_a_foreign_ip() -> None:
    signals = fired(make_facts(ip_country="nl"))
    assert "NL" in signals[SignalCode.IP_COUNTRY_MISMATCH]


def test_ip_country_mismatch_does_not_fire_when_the_ip_country_is_unknown() -> None:
    assert fired(make_facts(ip_country=None)) == {}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"company_country": "IR", "contact_phone": IR_FIXED, "ip_country": "IR"}, "company in IR"),
        ({"ip_country": "RU"}, "IP address in RU"),
        ({"contact_phone": IR_FIXED}, "phone number in IR"),
    ],
)
def test_high_risk_country_fires_and_names_which_country(
    changes: dict[str, Any], named: str
) -> None:
    signals = fired(make_facts(**changes))
    assert named in signals[SignalCode.HIGH_RISK_COUNTRY]


def test_high_risk_country_does_not_fire_for_an_unlisted_country() -> None:
    assert SignalCode.HIGH_RISK_COUNTRY not in fired(make_facts(ip_country="FR"))


def test_high_risk_country_follows_the_partners_list() -> None:
    policy = RiskPolicy(high_risk_countries={"GB"})
    assert SignalCode.HIGH_RISK_COUNTRY in fired(make_facts(), policy)


# --- payment instrument ---


@pytest.mark.parametrize("instrument", [InstrumentType.PREPAID_CARD, InstrumentType.STORED_VALUE])
def test_prepaid_instrument_fires_for_prepaid_instrument_types(instrument: InstrumentType) -> None:
    assert SignalCode.PREPAID_INSTRUMENT in fired(make_facts(instrument_type=instrument))


def test_prepaid_instrument_fires_for_a_credit_card_with_a_prepaid_bin() -> None:
    policy = RiskPolicy(bin_table=[BinRange(prefix="53999912", funding="prepaid")])
    signals = fired(make_facts(card_bin="53999912"), policy)
    assert "53999912" in signals[SignalCode.PREPAID_INSTRUMENT]


def test_prepaid_instrument_uses_the_longest_matching_bin_prefix() -> None:
    policy = RiskPolicy(
        bin_table=[
            BinRange(prefix="539999", funding="prepaid"),
            BinRange(prefix="53999912", funding="credit"),
        ]
    )
    assert SignalCode.PREPAID_INSTRUMENT not in fired(make_facts(card_bin="53999912"), policy)
    assert SignalCode.PREPAID_INSTRUMENT in fired(make_facts(card_bin="53999955"), policy)


def test_prepaid_instrument_does_not_fire_for_a_credit_card_with_an_unknown_bin() -> None:
    assert fired(make_facts(card_bin="411111")) == {}


def test_bin_country_mismatch_fires_for_a_card_issued_abroad() -> None:
    signals = fired(make_facts(card_bin="411111", card_country="US"))
    assert signals[SignalCode.BIN_COUNTRY_MISMATCH] == "Card issued in US, the company is in GB."


def test_bin_country_mismatch_falls_back_to_the_bin_table_country() -> None:
    policy = RiskPolicy(bin_table=[BinRange(prefix="411111", funding="credit", country="BR")])
    assert SignalCode.BIN_COUNTRY_MISMATCH in fired(make_facts(card_bin="41111122"), policy)


def test_bin_country_mismatch_does_not_fire_for_a_domestic_card() -> None:
    policy = RiskPolicy(bin_table=[BinRange(prefix="411111", funding="credit", country="US")])
    # The caller's card country is more specific than the partner's table.
    assert fired(make_facts(card_bin="411111", card_country="GB"), policy) == {}


# --- velocity ---


@pytest.mark.parametrize(
    ("key", "code", "count", "expected"),
    [
        (
            VelocityKey.DEVICE,
            SignalCode.VELOCITY_DEVICE,
            7,
            "7 other applications from this device in the last 60 minutes (limit 3).",
        ),
        (
            VelocityKey.IP,
            SignalCode.VELOCITY_IP,
            6,
            "6 other applications from this IP address in the last 60 minutes (limit 5).",
        ),
        (
            VelocityKey.EMAIL_DOMAIN,
            SignalCode.VELOCITY_EMAIL_DOMAIN,
            11,
            "11 other applications with e-mail domain acme.co.uk in the last 60 minutes (limit 10).",
        ),
        (
            VelocityKey.PHONE,
            SignalCode.VELOCITY_PHONE,
            3,
            "3 other applications with this phone number in the last 24 hours (limit 2).",
        ),
        (
            VelocityKey.CARD_BIN,
            SignalCode.VELOCITY_CARD_BIN,
            31,
            "31 other applications with card BIN 411111 in the last 60 minutes (limit 30).",
        ),
    ],
)
def test_velocity_fires_above_the_limit_with_the_numbers(
    key: VelocityKey, code: SignalCode, count: int, expected: str
) -> None:
    signals = fired(make_facts(card_bin="411111", velocity={key: count}))
    assert signals == {code: expected}


@pytest.mark.parametrize(
    ("key", "limit"),
    [
        (VelocityKey.DEVICE, 3),
        (VelocityKey.IP, 5),
        (VelocityKey.EMAIL_DOMAIN, 10),
        (VelocityKey.PHONE, 2),
        (VelocityKey.CARD_BIN, 30),
    ],
)
def test_velocity_does_not_fire_at_the_limit(key: VelocityKey, limit: int) -> None:
    assert fired(make_facts(card_bin="411111", velocity={key: limit})) == {}


def test_velocity_email_domain_does_not_fire_for_free_mail() -> None:
    facts = make_facts(contact_email="jane@gmail.com", velocity={VelocityKey.EMAIL_DOMAIN: 500})
    assert SignalCode.VELOCITY_EMAIL_DOMAIN not in fired(facts)


def test_velocity_follows_the_partners_limit() -> None:
    policy = RiskPolicy.model_validate(
        {"velocity": {"device": {"window_minutes": 5, "max_count": 0}}}
    )
    signals = fired(make_facts(velocity={VelocityKey.DEVICE: 1}), policy)
    assert signals[SignalCode.VELOCITY_DEVICE] == (
        "1 other application from this device in the last 5 minutes (limit 0)."
    )


# --- automation ---


def test_bot_fast_form_fires_below_the_minimum_fill_time() -> None:
    signals = fired(make_facts(form_fill_seconds=2.5))
    assert "2.5 seconds" in signals[SignalCode.BOT_FAST_FORM]


def test_bot_fast_form_does_not_fire_at_the_minimum_or_when_unknown() -> None:
    assert fired(make_facts(form_fill_seconds=8.0)) == {}
    assert fired(make_facts(form_fill_seconds=None)) == {}


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0.0.0 Safari/537.36",
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Go-http-client/1.1",
        "Mozilla/5.0 (compatible; my bot 1.0)",
    ],
)
def test_bot_user_agent_fires_for_automation_tools(user_agent: str) -> None:
    assert SignalCode.BOT_USER_AGENT in fired(make_facts(user_agent=user_agent))


@pytest.mark.parametrize("user_agent", [None, "", CHROME])
def test_bot_user_agent_does_not_fire_for_a_browser_or_a_missing_user_agent(
    user_agent: str | None,
) -> None:
    assert fired(make_facts(user_agent=user_agent)) == {}


def test_bot_user_agent_follows_the_partners_patterns() -> None:
    policy = RiskPolicy(bot_user_agent_patterns=[r"chrome/124"])
    signals = fired(make_facts(), policy)
    assert "Chrome/124" in signals[SignalCode.BOT_USER_AGENT]


# --- lists and screening ---


def test_blocklisted_fires_and_names_the_entry_and_reason() -> None:
    hit = ListHit(list=ListName.BLOCK, kind=ListKind.DEVICE, value="dev-42", reason="chargebacks")
    signals = fired(make_facts(list_hits=(hit,)))
    assert signals == {SignalCode.BLOCKLISTED: "On the block list: device dev-42 (chargebacks)."}


def test_blocklisted_wins_over_allowlisted() -> None:
    hits = (
        ListHit(list=ListName.ALLOW, kind=ListKind.DOMAIN, value="acme.co.uk"),
        ListHit(list=ListName.BLOCK, kind=ListKind.IP, value="203.0.113.0/24"),
    )
    assert set(fired(make_facts(list_hits=hits))) == {SignalCode.BLOCKLISTED}


def test_allowlisted_fires_for_an_allow_list_hit() -> None:
    hit = ListHit(list=ListName.ALLOW, kind=ListKind.DOMAIN, value="acme.co.uk")
    assert set(fired(make_facts(list_hits=(hit,)))) == {SignalCode.ALLOWLISTED}


def test_list_signals_do_not_fire_without_hits() -> None:
    signals = fired(make_facts())
    assert SignalCode.BLOCKLISTED not in signals
    assert SignalCode.ALLOWLISTED not in signals


def test_sanctions_match_fires_and_names_the_listed_entity() -> None:
    hit = SanctionsHit(
        party="company", name="Acme Trading LLC", score=0.93, datasets=("us_ofac_sdn",)
    )
    signals = fired(make_facts(sanctions_hits=(hit,)))
    assert signals[SignalCode.SANCTIONS_MATCH] == (
        "Sanctions screening: company matches 'Acme Trading LLC' (score 0.93, us_ofac_sdn)."
    )


def test_sanctions_match_does_not_fire_without_hits() -> None:
    assert SignalCode.SANCTIONS_MATCH not in fired(make_facts())


# --- checks ---


@pytest.mark.parametrize("result", [CheckResult.FAILED, CheckResult.EXPIRED])
@pytest.mark.parametrize(
    ("channel", "code"),
    [("sms", SignalCode.SMS_VERIFICATION_FAILED), ("email", SignalCode.EMAIL_VERIFICATION_FAILED)],
)
def test_verification_failed_fires_for_failed_or_expired(
    channel: str, code: SignalCode, result: CheckResult
) -> None:
    assert set(fired(make_facts(verifications={channel: result}))) == {code}


@pytest.mark.parametrize("result", [CheckResult.PASSED, CheckResult.INCONCLUSIVE])
def test_verification_failed_does_not_fire_for_passed_or_inconclusive(result: CheckResult) -> None:
    assert fired(make_facts(verifications={"sms": result, "email": result})) == {}


def test_mfa_not_enforced_fires_when_mfa_is_off() -> None:
    assert set(fired(make_facts(mfa_enforced=False))) == {SignalCode.MFA_NOT_ENFORCED}


@pytest.mark.parametrize("enforced", [True, None])
def test_mfa_not_enforced_does_not_fire_when_enforced_or_unknown(enforced: bool | None) -> None:
    assert fired(make_facts(mfa_enforced=enforced)) == {}


@pytest.mark.parametrize(
    ("field", "result", "code"),
    [
        ("identity", CheckResult.FAILED, SignalCode.IDENTITY_FAILED),
        ("identity", CheckResult.INCONCLUSIVE, SignalCode.IDENTITY_INCONCLUSIVE),
        ("identity", CheckResult.EXPIRED, SignalCode.IDENTITY_INCONCLUSIVE),
        ("credit", CheckResult.FAILED, SignalCode.CREDIT_FAILED),
        ("credit", CheckResult.INCONCLUSIVE, SignalCode.CREDIT_INCONCLUSIVE),
        ("credit", CheckResult.EXPIRED, SignalCode.CREDIT_INCONCLUSIVE),
    ],
)
def test_identity_and_credit_checks_fire_by_result(
    field: str, result: CheckResult, code: SignalCode
) -> None:
    assert set(fired(make_facts(**{field: result}))) == {code}


@pytest.mark.parametrize("result", [CheckResult.PASSED, None])
def test_identity_and_credit_checks_do_not_fire_when_passed_or_not_run(
    result: CheckResult | None,
) -> None:
    assert fired(make_facts(identity=result, credit=result)) == {}


def test_phone_contact_failed_fires_when_staff_could_not_confirm() -> None:
    assert set(fired(make_facts(phone_contact_confirmed=False))) == {
        SignalCode.PHONE_CONTACT_FAILED
    }


def test_phone_contact_confirmed_fires_when_staff_confirmed() -> None:
    signals = fired(make_facts(phone_contact_confirmed=True))
    assert set(signals) == {SignalCode.PHONE_CONTACT_CONFIRMED}


def test_phone_contact_signals_do_not_fire_before_a_call() -> None:
    assert fired(make_facts(phone_contact_confirmed=None)) == {}


def test_details_never_carry_more_than_the_bin_of_a_card_number() -> None:
    facts = make_facts(card_bin="4111111111111111", velocity={VelocityKey.CARD_BIN: 99})
    detail = fired(facts)[SignalCode.VELOCITY_CARD_BIN]
    assert "41111111" in detail
    assert "411111111" not in detail
