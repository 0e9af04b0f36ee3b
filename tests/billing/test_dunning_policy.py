"""The dunning schedule as pure rules: valid policies, and which steps are due when."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.dunning.policy import (
    DEFAULT_POLICY,
    MAX_DAY_OFFSET,
    STEP_ORDER,
    DunningPolicy,
    PolicyError,
    ScheduledStep,
    policy_from_stored,
    policy_to_stored,
    step_rank,
    steps_due,
)
from partnerguard.common.events.types.billing import DunningStep

R, W, F, S, T = STEP_ORDER


def policy(*pairs: tuple[DunningStep, int], minimum: int = 0) -> DunningPolicy:
    return DunningPolicy(tuple(ScheduledStep(step, day) for step, day in pairs), minimum)


@st.composite
def policies(draw: st.DrawFn) -> DunningPolicy:
    """Any valid policy: a non-empty subset of the steps, in order, at increasing days."""
    chosen = draw(st.lists(st.sampled_from(STEP_ORDER), min_size=1, unique=True))
    chosen.sort(key=step_rank)
    days = draw(
        st.lists(
            st.integers(1, MAX_DAY_OFFSET), min_size=len(chosen), max_size=len(chosen), unique=True
        )
    )
    days.sort()
    minimum = draw(st.integers(0, 1_000_000))
    return policy(*zip(chosen, days, strict=True), minimum=minimum)


def test_default_policy_escalates_from_reminder_to_termination() -> None:
    assert [(s.step, s.day_offset) for s in DEFAULT_POLICY.steps] == [
        (R, 1),
        (W, 7),
        (F, 14),
        (S, 30),
        (T, 60),
    ]
    assert DEFAULT_POLICY.minimum_amount == 0


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, ()), (1, (R,)), (6, (R,)), (7, (R, W)), (14, (R, W, F)), (30, (R, W, F, S)),
     (59, (R, W, F, S)), (60, (R, W, F, S, T)), (400, (R, W, F, S, T))],
)  # fmt: skip
def test_every_reached_step_is_due_when_none_ran(days: int, expected: tuple[DunningStep]) -> None:
    assert steps_due(DEFAULT_POLICY, days, ()) == expected


def test_steps_already_done_are_not_due_again() -> None:
    assert steps_due(DEFAULT_POLICY, 14, {R, W}) == (F,)
    assert steps_due(DEFAULT_POLICY, 14, {"reminder", "warning", "final_notice"}) == ()


def test_a_step_before_one_already_done_is_never_run() -> None:
    # The partner added a reminder after the warning went out: no reminder now.
    assert steps_due(DEFAULT_POLICY, 10, {W}) == ()
    assert steps_due(DEFAULT_POLICY, 14, {W}) == (F,)


def test_steps_left_out_of_the_policy_never_run() -> None:
    short = policy((R, 3), (S, 21))
    assert steps_due(short, 100, ()) == (R, S)


def test_invoices_below_the_minimum_or_owing_nothing_are_not_dunned() -> None:
    minimum = policy((R, 1), minimum=5_000)
    assert not minimum.dunnable(4_999)
    assert minimum.dunnable(5_000)
    assert not DEFAULT_POLICY.dunnable(0)
    assert DEFAULT_POLICY.dunnable(1)


@pytest.mark.parametrize(
    ("pairs", "minimum", "message"),
    [
        ((), 0, "at least one step"),
        (((W, 7), (R, 1)), 0, "comes before"),
        (((R, 7), (W, 7)), 0, "must come later"),
        (((R, 7), (W, 3)), 0, "must come later"),
        (((R, 1), (R, 5)), 0, "more than once"),
        (((R, 0),), 0, "between 1 and"),
        (((R, MAX_DAY_OFFSET + 1),), 0, "between 1 and"),
        (((R, 1),), -1, "minimum_amount"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(
    pairs: tuple[tuple[DunningStep, int], ...], minimum: int, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        policy(*pairs, minimum=minimum)


@given(policies(), st.integers(-5, 2 * MAX_DAY_OFFSET), st.sets(st.sampled_from(STEP_ORDER)))
def test_due_steps_are_reached_not_done_policy_steps_in_order(
    p: DunningPolicy, days: int, done: set[DunningStep]
) -> None:
    due = steps_due(p, days, done)
    assert list(due) == sorted(due, key=step_rank)
    assert len(set(due)) == len(due)
    for step in due:
        offset = p.offset_of(step)
        assert offset is not None
        assert offset <= days
        assert step not in done
        assert all(step_rank(step) > step_rank(d) for d in done)


@given(policies(), st.lists(st.integers(0, 2 * MAX_DAY_OFFSET), max_size=12))
def test_runs_as_an_invoice_ages_execute_each_reached_step_once_in_order(
    p: DunningPolicy, run_days: list[int]
) -> None:
    """Whatever days the runs fall on (late, repeated, catch-up), every step reached by the
    last run has run exactly once, in the policy's order."""
    run_days.sort()
    executed: list[DunningStep] = []
    for days in run_days:
        executed.extend(steps_due(p, days, executed))
    last = run_days[-1] if run_days else -1
    assert executed == [s.step for s in p.steps if s.day_offset <= last]


@given(policies(), st.integers(0, MAX_DAY_OFFSET), st.sets(st.sampled_from(STEP_ORDER)))
def test_a_later_day_never_has_fewer_steps_due(
    p: DunningPolicy, days: int, done: set[DunningStep]
) -> None:
    assert set(steps_due(p, days, done)) <= set(steps_due(p, days + 1, done))


@given(policies())
def test_a_policy_survives_storage(p: DunningPolicy) -> None:
    assert policy_from_stored(policy_to_stored(p), p.minimum_amount) == p


@given(
    st.lists(
        st.tuples(st.sampled_from(STEP_ORDER), st.integers(-2, MAX_DAY_OFFSET + 2)),
        max_size=6,
    )
)
def test_a_policy_is_accepted_exactly_when_ordered_and_strictly_increasing(
    pairs: list[tuple[DunningStep, int]],
) -> None:
    valid = (
        len(pairs) > 0
        and all(1 <= day <= MAX_DAY_OFFSET for _, day in pairs)
        and all(
            step_rank(a) < step_rank(b) and da < db
            for (a, da), (b, db) in zip(pairs, pairs[1:], strict=False)
        )
    )
    if valid:
        assert [s.step for s in policy(*pairs).steps] == [step for step, _ in pairs]
    else:
        with pytest.raises(PolicyError):
            policy(*pairs)
