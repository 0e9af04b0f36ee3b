"""Which usage is GPU or high-core compute: the crypto-mining detector's raw material.

Records are classified as they arrive, by the partner's patterns at that time, so that the
aggregates can carry the heavy part of spend without keeping every record's labels at hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=64)
def heavy_compute_matcher(patterns: tuple[str, ...]) -> Callable[[str, str], bool]:
    """A test of (resource type, meter) against ``patterns``, compiled once per pattern set."""
    if not patterns:
        return lambda resource_type, meter: False
    combined = re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)
    search = combined.search
    seen: dict[tuple[str, str], bool] = {}

    def is_heavy(resource_type: str, meter: str) -> bool:
        # A feed repeats a handful of resource types and meters millions of times.
        key = (resource_type, meter)
        found = seen.get(key)
        if found is None:
            found = bool(search(resource_type) or search(meter))
            if len(seen) < 100_000:
                seen[key] = found
        return found

    return is_heavy
