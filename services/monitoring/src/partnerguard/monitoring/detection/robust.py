"""Robust statistics for the spend baselines: median, MAD and the robust z-score.

The median and the median absolute deviation ignore a few wild days in a customer's history
(one quarter-end spike must not make every later spike look normal), unlike mean and standard
deviation. Money stays in ``Decimal`` throughout; only the score is a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# 0.6745 is the 75th percentile of the standard normal: with it, MAD scales like a standard
# deviation, so a robust z of 3.5 means about what a z-score of 3.5 would for normal data.
CONSISTENCY = Decimal("0.6745")
# The smallest scale a score divides by (one unit of the 8th decimal place costs are kept in):
# a flat zero history then makes any rise enormous, never a division by zero.
EPSILON = Decimal("0.00000001")


def median(values: Sequence[Decimal]) -> Decimal:
    """The middle value (the mean of the two middle ones for an even count); ``values`` non-empty."""
    if not values:
        raise ValueError("the median of nothing is undefined")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mad(values: Sequence[Decimal], centre: Decimal | None = None) -> Decimal:
    """The median absolute deviation from ``centre`` (the median of ``values`` by default)."""
    centre = median(values) if centre is None else centre
    return median([abs(value - centre) for value in values])


@dataclass(frozen=True)
class RobustScore:
    """How unusual ``observed`` is against a baseline, and the numbers the score came from."""

    observed: Decimal
    median: Decimal
    mad: Decimal
    # What the deviation was divided by: MAD, or its floor when the history is (nearly) flat.
    scale: Decimal
    z: float
    points: int

    @property
    def increase(self) -> Decimal:
        return self.observed - self.median


def robust_score(
    observed: Decimal, baseline: Sequence[Decimal], mad_floor_ratio: float
) -> RobustScore:
    """``0.6745 (observed - median) / max(MAD, mad_floor_ratio x median, EPSILON)``."""
    centre = median(baseline)
    deviation = mad(baseline, centre)
    scale = max(deviation, Decimal(str(mad_floor_ratio)) * centre, EPSILON)
    z = CONSISTENCY * (observed - centre) / scale
    return RobustScore(
        observed=observed,
        median=centre,
        mad=deviation,
        scale=scale,
        z=float(z),
        points=len(baseline),
    )
