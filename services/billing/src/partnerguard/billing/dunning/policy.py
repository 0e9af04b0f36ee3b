"""The dunning schedule, as pure rules: which steps a policy has, and which are due for an
invoice so many days past its due date. No I/O; the engine applies these to the database.

A policy is a subset of the fixed step sequence reminder → warning → final notice →
suspension request → termination request, each at a day offset after the due date. A partner
may leave steps out but not reorder them, and offsets grow strictly along the sequence, so
"later step" and "later day" always agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from partnerguard.common.events.types.billing import DunningStep

# The fixed order of escalation (the enum's declaration order).
STEP_ORDER: tuple[DunningStep, ...] = tuple(DunningStep)
_RANK: dict[DunningStep, int] = {step: rank for rank, step in enumerate(STEP_ORDER)}

# Two years after the due date: anything later is a typo, not a collections policy.
MAX_DAY_OFFSET = 730
# Minor units; well inside BIGINT and any real invoice.
MAX_MINIMUM_AMOUNT = 10**15

# Version 0 is the built-in policy a partner has until it saves one of its own.
DEFAULT_VERSION = 0


class PolicyError(ValueError):
    """A dunning policy that breaks the rules; the message says which and why."""


@dataclass(frozen=True)
class ScheduledStep:
    """One step of a policy: run ``step`` once an invoice is ``day_offset`` days overdue."""

    step: DunningStep
    day_offset: int


@dataclass(frozen=True)
class DunningPolicy:
    """Ordered steps plus the smallest open balance worth dunning (minor units, any currency)."""

    steps: tuple[ScheduledStep, ...]
    minimum_amount: int = 0

    def __post_init__(self) -> None:
        validate(self.steps, self.minimum_amount)

    def dunnable(self, balance: int) -> bool:
        """Whether an invoice owing ``balance`` is dunned at all under this policy."""
        return balance > 0 and balance >= self.minimum_amount

    def offset_of(self, step: DunningStep) -> int | None:
        for scheduled in self.steps:
            if scheduled.step == step:
                return scheduled.day_offset
        return None


def validate(steps: Sequence[ScheduledStep], minimum_amount: int) -> None:
    """Raise :class:`PolicyError` unless ``steps`` is a valid schedule and the minimum is sane."""
    if not steps:
        raise PolicyError("a dunning policy needs at least one step")
    seen: set[DunningStep] = set()
    previous: ScheduledStep | None = None
    for scheduled in steps:
        if scheduled.step in seen:
            raise PolicyError(f"step {scheduled.step.value} appears more than once")
        seen.add(scheduled.step)
        if not 1 <= scheduled.day_offset <= MAX_DAY_OFFSET:
            raise PolicyError(
                f"step {scheduled.step.value}: day_offset must be between 1 and "
                f"{MAX_DAY_OFFSET} days after the due date"
            )
        if previous is not None:
            if _RANK[scheduled.step] < _RANK[previous.step]:
                raise PolicyError(
                    f"step {scheduled.step.value} comes before {previous.step.value}: steps "
                    f"keep the order {', '.join(s.value for s in STEP_ORDER)}"
                )
            if scheduled.day_offset <= previous.day_offset:
                raise PolicyError(
                    f"step {scheduled.step.value} (day {scheduled.day_offset}) must come "
                    f"later than {previous.step.value} (day {previous.day_offset})"
                )
        previous = scheduled
    if not 0 <= minimum_amount <= MAX_MINIMUM_AMOUNT:
        raise PolicyError(f"minimum_amount must be between 0 and {MAX_MINIMUM_AMOUNT}")


# Escalation a week apart for the first weeks, then suspension at 30 days (the end of the
# 1-30 aging bucket, the usual "access suspended after 30 days" of a collections policy) and
# termination at 60 (end of 31-60). Minimum 0: the vendor's guidance asks partners to enforce
# dunning "aggressively", so every overdue amount is dunned until a partner decides otherwise.
DEFAULT_POLICY = DunningPolicy(
    steps=(
        ScheduledStep(DunningStep.REMINDER, 1),
        ScheduledStep(DunningStep.WARNING, 7),
        ScheduledStep(DunningStep.FINAL_NOTICE, 14),
        ScheduledStep(DunningStep.SUSPENSION_REQUEST, 30),
        ScheduledStep(DunningStep.TERMINATION_REQUEST, 60),
    ),
    minimum_amount=0,
)


def steps_due(
    policy: DunningPolicy, days_overdue: int, already_done: Collection[DunningStep | str]
) -> tuple[DunningStep, ...]:
    """The steps to run now for an invoice ``days_overdue`` days past due, in order.

    Every step whose offset has been reached and that has not run yet, so a run that comes
    late (or a catch-up run for a past date) does every missed step, each once, in order.
    Escalation never goes back: a step that precedes one already done is not run (a policy
    that gains a reminder after the warning went out does not send a reminder now).
    """
    done = {DunningStep(step) for step in already_done}
    furthest = max((_RANK[step] for step in done), default=-1)
    return tuple(
        scheduled.step
        for scheduled in policy.steps
        if scheduled.day_offset <= days_overdue
        and scheduled.step not in done
        and _RANK[scheduled.step] > furthest
    )


def step_rank(step: DunningStep | str) -> int:
    """Position of ``step`` in the escalation order (reminder = 0)."""
    return _RANK[DunningStep(step)]


def policy_from_stored(steps: Iterable[Mapping[str, Any]], minimum_amount: int) -> DunningPolicy:
    """A policy from its stored form (``[{"step", "day_offset"}]``)."""
    return DunningPolicy(
        steps=tuple(
            ScheduledStep(DunningStep(item["step"]), int(item["day_offset"])) for item in steps
        ),
        minimum_amount=minimum_amount,
    )


def policy_to_stored(policy: DunningPolicy) -> list[dict[str, Any]]:
    """The stored form of the policy's steps, in step order."""
    return [{"step": s.step.value, "day_offset": s.day_offset} for s in policy.steps]
