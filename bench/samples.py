"""The raw samples a benchmark returns beside its figures (``result["samples"]``), for the
report's plots, kept small enough for its JSON:

- ``latency_ms``: ``{series: [ms, ...]}``, at most ``LATENCY_POINTS`` per series, spread evenly
  over the sorted latencies (so a CDF or histogram of them keeps the distribution's shape);
- ``throughput``: ``{"unit": ..., "x": ..., "series": {series: [[t_s, per_s], ...]}}``,
  completions per second in equal bins, a ``[t_s, None]`` point between two separate stretches;
- ``memory_mb``: ``{"x": ..., "series": {series: [[t_s, mb], ...]}}`` where a benchmark watches it.
"""

from __future__ import annotations

from collections.abc import Sequence

LATENCY_POINTS = 1000
TIMELINE_POINTS = 500

Point = list[float | None]


def latency_sample(latencies_ms: Sequence[float], limit: int = LATENCY_POINTS) -> list[float]:
    """At most ``limit`` of the latencies, evenly spaced over their sorted order, the lowest
    and the highest included."""
    ordered = sorted(latencies_ms)
    if len(ordered) > limit:
        step = (len(ordered) - 1) / (limit - 1)
        ordered = [ordered[round(i * step)] for i in range(limit)]
    return [round(value, 3) for value in ordered]


def rate_series(
    completed_at: Sequence[float],
    start: float,
    end: float,
    *,
    origin: float | None = None,
    points: int = 40,
    weights: Sequence[float] | None = None,
) -> list[Point]:
    """Completions per second over ``[start, end]`` in ``points`` equal bins (fewer when the
    stretch is short), each at its bin's middle in seconds since ``origin`` (``start`` by
    default); ``weights`` counts each completion as that many (records in a batch, say)."""
    origin = start if origin is None else origin
    span = max(end - start, 1e-9)
    # Bins of a quarter of a second at least: fewer completions a bin would be mostly noise.
    bins = max(1, min(points, int(span / 0.25)))
    width = span / bins
    totals = [0.0] * bins
    for index, at in enumerate(completed_at):
        if start <= at <= end:
            totals[min(bins - 1, int((at - start) / width))] += (
                1 if weights is None else weights[index]
            )
    return [
        [round(start - origin + (i + 0.5) * width, 3), round(total / width, 1)]
        for i, total in enumerate(totals)
    ]


def joined(stretches: Sequence[list[Point]]) -> list[Point]:
    """Separate stretches of one series as one, with a gap between them."""
    points: list[Point] = []
    for stretch in stretches:
        if points and stretch:
            points.append([stretch[0][0], None])
        points.extend(stretch)
    return points


def thinned(points: Sequence[Point], limit: int = TIMELINE_POINTS) -> list[Point]:
    """At most about ``limit`` of the points, evenly spaced (for a value sampled, not counted)."""
    step = max(1, -(-len(points) // limit))
    return [list(point) for point in points[::step]]
