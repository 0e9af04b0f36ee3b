"""Which usage is GPU or high-core compute: the crypto-mining detector's raw material.

Records are classified as they arrive, by the partner's patterns at that time, so that the
aggregates can carry the heavy part of spend without keeping every record's labels at hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import or_


@lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], object]:
    """A search of one label for any of ``patterns``, compiled once per pattern set."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE).search


def heavy_compute(
    patterns: tuple[str, ...], resource_types: list[str], meters: list[str]
) -> list[bool]:
    """Whether each record (its resource type and meter) is heavy compute: either label matches
    one of ``patterns``. A feed repeats a handful of labels: each distinct one is searched once."""
    if not patterns:
        return [False] * len(resource_types)
    search = _matcher(patterns)
    types = {label: search(label) is not None for label in set(resource_types)}
    named = {label: search(label) is not None for label in set(meters)}
    return list(map(or_, map(types.__getitem__, resource_types), map(named.__getitem__, meters)))
