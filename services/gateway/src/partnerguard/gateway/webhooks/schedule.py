"""When a failed delivery is tried again, and when a failing endpoint is given up on. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

# Standard Webhooks' suggested schedule: the first attempt at once, then these waits. Together
# they span more than a day (27.6 h), so an endpoint down over a weekend night still catches up.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

# An endpoint with no success for this long, whose delivery has run out of retries, is disabled.
DISABLE_AFTER = timedelta(hours=24)

# A claimed delivery is not claimed again by another worker for this long: far more than one
# attempt can take (its timeouts), so only a worker that died mid-attempt lets it go.
CLAIM_LEASE = timedelta(minutes=2)


def next_attempt_at(attempts_made: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts; ``None`` when retries are spent."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    return now + RETRY_DELAYS[attempts_made - 1]


def should_disable(failing_since: datetime | None, now: datetime) -> bool:
    """Whether an endpoint failing since ``failing_since`` has failed long enough to stop."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER
