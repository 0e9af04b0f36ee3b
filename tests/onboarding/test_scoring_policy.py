"""The risk policy as partners send it: defaults, merging and validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.scoring import (
    DEFAULT_WEIGHTS,
    RiskPolicy,
    SignalCode,
    VelocityKey,
    VelocityLimit,
)


def test_default_policy_weighs_every_signal() -> None:
    policy = RiskPolicy()
    assert set(policy.weights) == set(SignalCode)
    assert policy.weights[SignalCode.ALLOWLISTED] < 0
    assert policy.weights[SignalCode.PHONE_CONTACT_CONFIRMED] < 0


def test_default_policy_has_the_documented_thresholds_and_limits() -> None:
    policy = RiskPolicy()
    assert (policy.review_threshold, policy.reject_threshold) == (30, 70)
    assert policy.hard_reject == {SignalCode.BLOCKLISTED, SignalCode.SANCTIONS_MATCH}
    assert policy.velocity[VelocityKey.DEVICE] == VelocityLimit(window_minutes=60, max_count=3)
    assert policy.velocity[VelocityKey.PHONE] == VelocityLimit(window_minutes=1440, max_count=2)
    assert policy.prepayment_tiers == {RiskTier.MEDIUM, RiskTier.HIGH}
    assert policy.required_verifications == {"sms", "email"}


def test_partial_weights_are_merged_over_the_defaults() -> None:
    policy = RiskPolicy.model_validate({"weights": {"velocity_ip": 5, "allowlisted": -80}})
    assert policy.weights[SignalCode.VELOCITY_IP] == 5
    assert policy.weights[SignalCode.ALLOWLISTED] == -80
    assert (
        policy.weights[SignalCode.DISPOSABLE_EMAIL] == DEFAULT_WEIGHTS[SignalCode.DISPOSABLE_EMAIL]
    )
    assert set(policy.weights) == set(SignalCode)


def test_partial_velocity_is_merged_over_the_defaults() -> None:
    policy = RiskPolicy.model_validate({"velocity": {"ip": {"window_minutes": 10, "max_count": 1}}})
    assert policy.velocity[VelocityKey.IP] == VelocityLimit(window_minutes=10, max_count=1)
    assert policy.velocity[VelocityKey.DEVICE] == VelocityLimit(window_minutes=60, max_count=3)
    assert set(policy.velocity) == set(VelocityKey)


def test_policy_survives_a_json_round_trip() -> None:
    policy = RiskPolicy.model_validate(
        {
            "weights": {"bot_fast_form": 0},
            "high_risk_countries": ["ir", " kp "],
            "bin_table": [{"prefix": "539999", "funding": "prepaid", "country": "us"}],
        }
    )
    stored = json.loads(json.dumps(policy.model_dump(mode="json")))
    assert RiskPolicy.model_validate(stored) == policy
    assert stored["high_risk_countries"] == ["IR", "KP"]
    assert stored["bin_table"][0]["country"] == "US"


def test_policy_json_lists_sets_in_sorted_order() -> None:
    stored = RiskPolicy().model_dump(mode="json")
    assert stored["high_risk_countries"] == sorted(stored["high_risk_countries"])
    assert stored["hard_reject"] == ["blocklisted", "sanctions_match"]


def test_policy_has_a_json_schema_with_descriptions() -> None:
    schema = RiskPolicy.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "description" in schema["properties"]["review_threshold"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"high_risk_countries": ["IRN"]}, id="three-letter-country"),
        pytest.param({"high_risk_countries": ["1R"]}, id="digit-in-country"),
        pytest.param({"review_threshold": 70, "reject_threshold": 70}, id="review-equals-reject"),
        pytest.param({"review_threshold": 80, "reject_threshold": 60}, id="review-above-reject"),
        pytest.param({"reject_threshold": 101}, id="threshold-above-100"),
        pytest.param({"bot_user_agent_patterns": ["(unclosed"]}, id="bad-regex"),
        pytest.param({"weights": {"no_such_signal": 10}}, id="unknown-signal-in-weights"),
        pytest.param({"hard_reject": ["no_such_signal"]}, id="unknown-signal-in-hard-reject"),
        pytest.param({"weights": {"velocity_ip": 101}}, id="weight-above-100"),
        pytest.param({"weights": {"allowlisted": -101}}, id="weight-below-minus-100"),
        pytest.param({"surprise": True}, id="extra-field"),
        pytest.param({"velocity": {"ip": {"window_minutes": 0, "max_count": 1}}}, id="zero-window"),
        pytest.param(
            {"velocity": {"ip": {"window_minutes": 10081, "max_count": 1}}}, id="long-window"
        ),
        pytest.param(
            {"velocity": {"ip": {"window_minutes": 10, "max_count": -1}}}, id="negative-max"
        ),
        pytest.param(
            {"velocity": {"fax": {"window_minutes": 10, "max_count": 1}}}, id="unknown-key"
        ),
        pytest.param({"bin_table": [{"prefix": "12345", "funding": "credit"}]}, id="short-bin"),
        pytest.param({"bin_table": [{"prefix": "123456789", "funding": "credit"}]}, id="long-bin"),
        pytest.param({"bin_table": [{"prefix": "123456", "funding": "gift"}]}, id="bad-funding"),
        pytest.param(
            {"bin_table": [{"prefix": "123456", "funding": "credit", "country": "USA"}]},
            id="bad-bin-country",
        ),
        pytest.param(
            {"bin_table": [{"prefix": "123456", "funding": "credit"}] * 2}, id="duplicate-bin"
        ),
        pytest.param({"risky_phone_line_types": ["carrier_pigeon"]}, id="unknown-line-type"),
        pytest.param({"medium_tier_from": 50, "high_tier_from": 40}, id="medium-above-high"),
        pytest.param({"prepayment_tiers": ["extreme"]}, id="unknown-tier"),
        pytest.param({"required_verifications": ["fax"]}, id="unknown-verification"),
        pytest.param({"min_form_seconds": -1}, id="negative-form-seconds"),
    ],
)
def test_invalid_policy_is_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RiskPolicy.model_validate(body)


def test_bad_regex_error_names_the_pattern() -> None:
    with pytest.raises(ValidationError, match=r"\(unclosed"):
        RiskPolicy(bot_user_agent_patterns=["(unclosed"])


@pytest.mark.parametrize(
    "patterns",
    [
        pytest.param([""], id="empty"),
        pytest.param(["a" * 201], id="too-long"),
        pytest.param(["x"] * 101, id="too-many"),
    ],
)
def test_user_agent_patterns_are_bounded(patterns: list[str]) -> None:
    with pytest.raises(ValidationError):
        RiskPolicy(bot_user_agent_patterns=patterns)
