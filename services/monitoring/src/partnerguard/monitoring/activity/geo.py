"""Where countries are, and how fast someone must have travelled between two of them.

Pure functions over a small table packaged with the service (``country_coordinates.csv``: one
point per country, its capital or main city), read once per process. A country is a point,
so travel inside one country is never "impossible", and distances between neighbours are
those of their capitals: good enough to tell travel that no flight explains.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources

# The mean Earth radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


def haversine_km(a: Point, b: Point) -> float:
    """The great-circle distance between ``a`` and ``b`` in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    # Rounding can push h a hair past 1 for antipodes; asin would then fail.
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def speed_kmh(distance_km: float, elapsed: timedelta) -> float | None:
    """The speed that covers ``distance_km`` in ``elapsed``; None when no time passed at all."""
    hours = abs(elapsed.total_seconds()) / 3600
    if hours == 0:
        return None
    return distance_km / hours


def is_impossible_travel(
    distance_km: float, elapsed: timedelta, *, max_speed_kmh: float, min_distance_km: float
) -> bool:
    """Whether covering ``distance_km`` in ``elapsed`` is faster than ``max_speed_kmh`` allows,
    over at least ``min_distance_km`` (shorter hops are within what country points can tell)."""
    if distance_km <= 0 or distance_km < min_distance_km:
        return False
    speed = speed_kmh(distance_km, elapsed)
    return speed is None or speed > max_speed_kmh


@cache
def country_points() -> Mapping[str, Point]:
    """Each ISO 3166-1 alpha-2 code (and XK, Kosovo) and its point, from the packaged table."""
    text = (
        resources.files("partnerguard.monitoring.activity")
        .joinpath("country_coordinates.csv")
        .read_text(encoding="utf-8")
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {
        row["code"]: Point(float(row["latitude"]), float(row["longitude"]))
        for row in csv.DictReader(lines)
    }
