"""Waiting for eventual consistency: poll what a user would look at, up to a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

# Long enough for a slow, busy CI machine; a healthy platform answers within a second or two.
DEFAULT_WITHIN = 20.0
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 0.5


async def eventually(
    fetch: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    what: str,
    *,
    within: float = DEFAULT_WITHIN,
) -> T:
    """``fetch()`` again and again until ``until`` holds for what it returned; that value.

    Fails the test after ``within`` seconds, saying ``what`` was awaited and what was last seen.
    Errors raised by ``fetch`` are not swallowed: a broken call is a failure, not a delay.
    """
    deadline = time.monotonic() + within
    pause = _FIRST_PAUSE
    while True:
        seen = await fetch()
        if until(seen):
            return seen
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {within:g}s for {what}; last seen: {_short(seen)}")
        await asyncio.sleep(pause)
        # Quick at first (most waits are short), gentler on the services later.
        pause = min(pause * 2, _LONGEST_PAUSE)


def _short(value: object, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


async def eventually_found(
    fetch: Callable[[], Awaitable[T | None]], what: str, *, within: float = DEFAULT_WITHIN
) -> T:
    """What ``fetch()`` returns once it is no longer None (a thing that appears)."""
    found = await eventually(fetch, lambda value: value is not None, what, within=within)
    assert found is not None
    return found
