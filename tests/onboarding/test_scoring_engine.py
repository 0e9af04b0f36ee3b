"""Scoring an application: score, outcome, hard rejects, tiers and properties that always hold."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.scoring import (
    CheckResult,
    Facts,
    InstrumentType,
    ListHit,
    ListKind,
    ListName,
    Outcome,
    RiskPolicy,
    SanctionsHit,
    SignalCode,
    VelocityKey,
    score_application,
)

GB_FIXED = "+442079460000"
DE_FIXED = "+4930901820"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15"
)

BLOCK_HIT = ListHit(list=ListName.BLOCK, kind=ListKind.EMAIL, value="x@acme.co.uk", reason="fraud")
ALLOW_HIT = ListHit(list=ListName.ALLOW, kind=ListKind.DOMAIN, value="acme.co.uk")
SEVERITY = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.REJECT: 2}


def make_facts(**changes: Any) -> Facts:
    values: dict[str, Any] = {
        "company_country": "GB",
        "company_domain": "acme.co.uk",
        "contact_email": "jane.doe@acme.co.uk",
        "contact_phone": GB_FIXED,
        "ip_country": "GB",
        "user_agent": CHROME,
        "form_fill_seconds": 75.0,
        "instrument_type": InstrumentType.CREDIT_CARD,
        "card_bin": "411111",
        "card_country": "GB",
        "verifications": {"sms": CheckResult.PASSED, "email": CheckResult.PASSED},
        "mfa_enforced": True,
    }
    values.update(changes)
    return Facts(**values)


def mfa_policy(points: int, **changes: Any) -> RiskPolicy:
    """A policy where the one signal under test (mfa_not_enforced) weighs ``points``."""
    return RiskPolicy.model_validate({"weights": {"mfa_not_enforced": points}, **changes})


MFA_OFF = make_facts(mfa_enforced=False)


# --- examples ---


def test_clean_company_on_its_own_domain_is_approved_with_low_tier() -> None:
    assessment = score_application(make_facts(), RiskPolicy())
    assert assessment.outcome is Outcome.APPROVE
    assert assessment.score == 0
    assert assessment.reasons == ()
    assert assessment.risk_tier is RiskTier.LOW
    assert not assessment.prepayment_required
    assert not assessment.hard_reject


def test_clean_german_company_is_approved_with_low_tier() -> None:
    facts = make_facts(
        company_country="DE",
        company_domain="beispiel-gmbh.de",
        contact_email="info@beispiel-gmbh.de",
        contact_phone=DE_FIXED,
        ip_country="DE",
        card_country="DE",
    )
    assessment = score_application(facts, RiskPolicy())
    assert (assessment.outcome, assessment.risk_tier) == (Outcome.APPROVE, RiskTier.LOW)


def test_score_below_review_threshold_is_approved() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(29))
    assert (assessment.score, assessment.outcome) == (29, Outcome.APPROVE)


def test_score_at_review_threshold_goes_to_review() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(30))
    assert (assessment.score, assessment.outcome) == (30, Outcome.REVIEW)


def test_score_just_below_reject_threshold_goes_to_review() -> None:
    assert score_application(MFA_OFF, mfa_policy(69)).outcome is Outcome.REVIEW


def test_score_at_reject_threshold_is_rejected_without_hard_reject() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(70))
    assert (assessment.outcome, assessment.hard_reject) == (Outcome.REJECT, False)


def test_thresholds_follow_the_policy() -> None:
    policy = mfa_policy(20, review_threshold=10, reject_threshold=20)
    assert score_application(MFA_OFF, policy).outcome is Outcome.REJECT


def test_score_is_clamped_to_100() -> None:
    facts = make_facts(
        contact_email="x@mailinator.com",
        ip_country="RU",
        identity=CheckResult.FAILED,
        credit=CheckResult.FAILED,
    )
    assert score_application(facts, RiskPolicy()).score == 100


def test_score_is_clamped_to_0() -> None:
    facts = make_facts(list_hits=(ALLOW_HIT,), phone_contact_confirmed=True)
    assessment = score_application(facts, RiskPolicy())
    assert assessment.score == 0
    assert [reason.points for reason in assessment.reasons] == [-30, -50]


def test_blocklisted_rejects_regardless_of_score() -> None:
    policy = RiskPolicy.model_validate({"weights": {"blocklisted": 0}})
    assessment = score_application(make_facts(list_hits=(BLOCK_HIT,)), policy)
    assert assessment.score == 0
    assert (assessment.outcome, assessment.hard_reject) == (Outcome.REJECT, True)
    assert assessment.reasons[0].code == SignalCode.BLOCKLISTED
    assert assessment.reasons[0].hard


def test_sanctions_match_rejects_even_with_allow_list_and_phone_confirmation() -> None:
    hit = SanctionsHit(party="contact", name="Ivan Example", score=0.88)
    facts = make_facts(sanctions_hits=(hit,), list_hits=(ALLOW_HIT,), phone_contact_confirmed=True)
    assessment = score_application(facts, RiskPolicy())
    assert (assessment.outcome, assessment.hard_reject) == (Outcome.REJECT, True)


def test_signal_outside_hard_reject_only_adds_points() -> None:
    policy = RiskPolicy.model_validate({"hard_reject": [], "weights": {"blocklisted": 40}})
    assessment = score_application(make_facts(list_hits=(BLOCK_HIT,)), policy)
    assert (assessment.score, assessment.outcome, assessment.hard_reject) == (
        40,
        Outcome.REVIEW,
        False,
    )


def test_partner_can_make_any_signal_a_hard_reject() -> None:
    policy = RiskPolicy.model_validate({"hard_reject": ["disposable_email"]})
    assessment = score_application(make_facts(contact_email="x@yopmail.com"), policy)
    assert assessment.outcome is Outcome.REJECT
    assert assessment.hard_reject


def test_allowlist_lowers_the_score_of_a_risky_application() -> None:
    risky = make_facts(contact_email="jane@mailinator.com")
    assert score_application(risky, RiskPolicy()).outcome is Outcome.REVIEW
    allowed = score_application(risky.model_copy(update={"list_hits": (ALLOW_HIT,)}), RiskPolicy())
    assert allowed.outcome is Outcome.APPROVE
    assert allowed.score == 0
    assert {reason.code: reason.points for reason in allowed.reasons} == {
        "disposable_email": 35,
        "allowlisted": -50,
    }


def test_phone_confirmation_lowers_the_score() -> None:
    facts = make_facts(contact_email="jane@gmail.com", ip_country="FR", mfa_enforced=False)
    before = score_application(facts, RiskPolicy()).score
    confirmed = facts.model_copy(update={"phone_contact_confirmed": True})
    assert score_application(confirmed, RiskPolicy()).score == before - 30


def test_zero_weight_signals_are_still_listed() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(0))
    assert assessment.score == 0
    assert [(reason.code, reason.points) for reason in assessment.reasons] == [
        ("mfa_not_enforced", 0)
    ]


def test_reasons_are_ordered_hard_first_then_points_then_code() -> None:
    facts = make_facts(
        list_hits=(BLOCK_HIT,),
        ip_country="FR",
        mfa_enforced=False,
        contact_email="jane@gmail.com",
        form_fill_seconds=1.0,
    )
    codes = [reason.code for reason in score_application(facts, RiskPolicy()).reasons]
    assert codes == [
        "blocklisted",
        "bot_fast_form",
        "free_email_with_company_domain",
        "ip_country_mismatch",
        "mfa_not_enforced",
    ]


def test_tier_is_low_below_medium_tier_from() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(14))
    assert (assessment.risk_tier, assessment.prepayment_required) == (RiskTier.LOW, False)


def test_tier_is_medium_from_medium_tier_from_and_requires_prepayment() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(15))
    assert assessment.outcome is Outcome.APPROVE
    assert (assessment.risk_tier, assessment.prepayment_required) == (RiskTier.MEDIUM, True)


def test_tier_is_high_from_high_tier_from() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(40))
    assert (assessment.outcome, assessment.risk_tier) == (Outcome.REVIEW, RiskTier.HIGH)


def test_rejected_application_still_gets_a_tier() -> None:
    policy = RiskPolicy.model_validate({"weights": {"blocklisted": 0}})
    assessment = score_application(make_facts(list_hits=(BLOCK_HIT,)), policy)
    assert (assessment.outcome, assessment.risk_tier) == (Outcome.REJECT, RiskTier.LOW)


def test_prepayment_follows_the_policys_tiers() -> None:
    assessment = score_application(MFA_OFF, mfa_policy(20, prepayment_tiers=["high"]))
    assert (assessment.risk_tier, assessment.prepayment_required) == (RiskTier.MEDIUM, False)


def test_assessment_serializes_to_json() -> None:
    assessment = score_application(make_facts(list_hits=(BLOCK_HIT,)), RiskPolicy())
    body = assessment.model_dump(mode="json")
    assert body["outcome"] == "reject"
    assert body["reasons"][0] == {
        "code": "blocklisted",
        "detail": "On the block list: email x@acme.co.uk (fraud).",
        "points": 100,
        "hard": True,
    }


# --- a scripted burst ---


def test_burst_of_fifty_applications_from_one_device_is_not_approved() -> None:
    """50 applications from one device and IP within a minute: each sees the earlier ones."""
    policy = RiskPolicy()
    outcomes = [
        score_application(
            make_facts(
                contact_email=f"buyer{n}@acme.co.uk",
                velocity={VelocityKey.DEVICE: n, VelocityKey.IP: n},
            ),
            policy,
        ).outcome
        for n in range(50)
    ]
    # The device limit is 3 others: the first four look like a team signing up.
    assert outcomes[:4] == [Outcome.APPROVE] * 4
    assert Outcome.APPROVE not in outcomes[4:]


# --- properties ---

_EMAILS = [
    "jane@acme.co.uk",
    "ops@uk.acme.co.uk",
    "jane@gmail.com",
    "x@mailinator.com",
    "a@sub.guerrillamail.com",
    "x@other-corp.com",
    "no-at-sign",
]
_PHONES = [GB_FIXED, DE_FIXED, "+445612345678", "+982112345678", "+15555555555", "0207", ""]
_COUNTRIES = ["GB", "DE", "US", "IR", "RU"]


@st.composite
def facts_strategy(draw: st.DrawFn) -> Facts:
    optional_country = st.none() | st.sampled_from(_COUNTRIES)
    checks = st.none() | st.sampled_from(CheckResult)
    list_hit = st.builds(
        ListHit,
        list=st.sampled_from(ListName),
        kind=st.sampled_from(ListKind),
        value=st.sampled_from(["acme.co.uk", "203.0.113.7", "dev-1"]),
        reason=st.sampled_from(["", "chargebacks"]),
    )
    sanctions_hit = st.builds(
        SanctionsHit,
        party=st.sampled_from(["company", "contact"]),
        name=st.just("Listed Entity"),
        score=st.floats(0, 1),
    )
    return Facts(
        company_country=draw(st.sampled_from(_COUNTRIES)),
        company_domain=draw(st.none() | st.sampled_from(["acme.co.uk", "www.acme.co.uk"])),
        contact_email=draw(st.sampled_from(_EMAILS)),
        contact_phone=draw(st.sampled_from(_PHONES)),
        ip_country=draw(optional_country),
        user_agent=draw(st.none() | st.sampled_from(["", CHROME, "curl/8.0", "Selenium"])),
        form_fill_seconds=draw(st.none() | st.floats(0, 3600)),
        instrument_type=draw(st.none() | st.sampled_from(InstrumentType)),
        card_bin=draw(st.none() | st.sampled_from(["411111", "53999912"])),
        card_country=draw(optional_country),
        velocity=draw(st.dictionaries(st.sampled_from(VelocityKey), st.integers(0, 200))),
        list_hits=tuple(draw(st.lists(list_hit, max_size=3))),
        sanctions_hits=tuple(draw(st.lists(sanctions_hit, max_size=2))),
        verifications=draw(
            st.dictionaries(st.sampled_from(["sms", "email"]), st.sampled_from(CheckResult))
        ),
        mfa_enforced=draw(st.none() | st.booleans()),
        identity=draw(checks),
        credit=draw(checks),
        phone_contact_confirmed=draw(st.none() | st.booleans()),
    )


@st.composite
def policy_strategy(draw: st.DrawFn) -> RiskPolicy:
    review = draw(st.integers(0, 99))
    reject = draw(st.integers(review + 1, 100))
    medium = draw(st.integers(0, 100))
    high = draw(st.integers(medium, 100))
    return RiskPolicy.model_validate(
        {
            "weights": draw(st.dictionaries(st.sampled_from(SignalCode), st.integers(-100, 100))),
            "review_threshold": review,
            "reject_threshold": reject,
            "medium_tier_from": medium,
            "high_tier_from": high,
            "hard_reject": draw(st.sets(st.sampled_from(SignalCode), max_size=3)),
            "bin_table": [{"prefix": "539999", "funding": "prepaid", "country": "US"}],
        }
    )


@settings(max_examples=300)
@given(facts=facts_strategy(), policy=policy_strategy())
def test_score_is_always_between_0_and_100(facts: Facts, policy: RiskPolicy) -> None:
    assert 0 <= score_application(facts, policy).score <= 100


@settings(max_examples=100)
@given(facts=facts_strategy(), policy=policy_strategy())
def test_adding_a_hard_reject_hit_always_rejects(facts: Facts, policy: RiskPolicy) -> None:
    policy = policy.model_copy(
        update={"hard_reject": policy.hard_reject | {SignalCode.BLOCKLISTED}}
    )
    blocked = facts.model_copy(update={"list_hits": (*facts.list_hits, BLOCK_HIT)})
    assessment = score_application(blocked, policy)
    assert assessment.outcome is Outcome.REJECT
    assert assessment.hard_reject


@settings(max_examples=100)
@given(facts=facts_strategy(), policy=policy_strategy(), raise_by=st.integers(1, 100))
def test_raising_the_reject_threshold_never_makes_the_outcome_harsher(
    facts: Facts, policy: RiskPolicy, raise_by: int
) -> None:
    laxer = policy.model_copy(
        update={"reject_threshold": min(policy.reject_threshold + raise_by, 100)}
    )
    before = score_application(facts, policy).outcome
    after = score_application(facts, laxer).outcome
    assert SEVERITY[after] <= SEVERITY[before]


@settings(max_examples=100)
@given(facts=facts_strategy(), policy=policy_strategy())
def test_scoring_is_deterministic(facts: Facts, policy: RiskPolicy) -> None:
    first = score_application(facts, policy)
    reloaded = RiskPolicy.model_validate(policy.model_dump(mode="json"))
    again = Facts.model_validate(facts.model_dump(mode="json"))
    assert score_application(again, reloaded) == first


@settings(max_examples=100)
@given(facts=facts_strategy(), policy=policy_strategy())
def test_outcome_agrees_with_score_and_thresholds(facts: Facts, policy: RiskPolicy) -> None:
    assessment = score_application(facts, policy)
    if assessment.hard_reject:
        assert assessment.outcome is Outcome.REJECT
    elif assessment.score >= policy.reject_threshold:
        assert assessment.outcome is Outcome.REJECT
    elif assessment.score >= policy.review_threshold:
        assert assessment.outcome is Outcome.REVIEW
    else:
        assert assessment.outcome is Outcome.APPROVE
    assert assessment.prepayment_required == (assessment.risk_tier in policy.prepayment_tiers)


@settings(max_examples=100)
@given(facts=facts_strategy())
def test_allow_list_hit_never_raises_the_default_score(facts: Facts) -> None:
    unlisted = facts.model_copy(update={"list_hits": ()})
    allowed = facts.model_copy(update={"list_hits": (ALLOW_HIT,)})
    policy = RiskPolicy()
    assert score_application(allowed, policy).score <= score_application(unlisted, policy).score
