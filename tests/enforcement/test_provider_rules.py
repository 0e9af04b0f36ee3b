"""The provider's pure rules: request ids, retry delays, the action for a wanted status."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.enforcement import ActionKind
from partnerguard.enforcement.provider.operations import (
    MAX_RETRY_DELAY_SECONDS,
    action_for,
    request_id_for,
    retry_delay,
)

PARTNER = uuid.UUID("0190a0b0-0000-7000-8000-000000000001")
SUBSCRIPTION = uuid.UUID("5f8a2c1e-3d4b-4e6f-8a9b-0c1d2e3f4a5b")


def test_request_id_is_the_same_for_every_attempt_of_a_revision() -> None:
    assert request_id_for(PARTNER, SUBSCRIPTION, 3) == request_id_for(PARTNER, SUBSCRIPTION, 3)


def test_request_id_differs_per_revision_subscription_partner_and_restart() -> None:
    ids = {
        request_id_for(PARTNER, SUBSCRIPTION, 3),
        request_id_for(PARTNER, SUBSCRIPTION, 4),
        request_id_for(PARTNER, uuid.uuid4(), 3),
        request_id_for(uuid.uuid4(), SUBSCRIPTION, 3),
        request_id_for(PARTNER, SUBSCRIPTION, 3, 1),
    }
    assert len(ids) == 5


def test_request_id_is_stable_across_releases() -> None:
    # Replicas of different versions must send the same MS-RequestId for one change.
    assert request_id_for(PARTNER, SUBSCRIPTION, 1) == uuid.UUID(
        "49f35b0a-3130-5677-a308-38f1f898ca55"
    )


def test_retry_delay_doubles_from_the_base() -> None:
    assert [retry_delay(n, 5.0) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]


def test_retry_delay_is_capped_at_an_hour() -> None:
    assert retry_delay(30, 5.0) == MAX_RETRY_DELAY_SECONDS
    assert retry_delay(10_000, 5.0) == MAX_RETRY_DELAY_SECONDS


@given(
    attempts=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=600.0),
)
def test_retry_delay_never_shrinks_and_never_exceeds_the_cap(attempts: int, base: float) -> None:
    delay = retry_delay(attempts, base)
    assert 0 < delay <= MAX_RETRY_DELAY_SECONDS
    assert retry_delay(attempts + 1, base) >= delay


def test_action_follows_the_wanted_status() -> None:
    assert action_for("suspended") is ActionKind.SUSPEND_SUBSCRIPTION
    assert action_for("active") is ActionKind.REINSTATE_SUBSCRIPTION
