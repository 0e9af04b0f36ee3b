"""Spend anomaly: a day or an hour far above the customer's own robust baseline (no I/O here).

A day is compared with the same weekday of earlier weeks, an hour with the same hour of day on
earlier days of the same kind (working day Monday to Friday, or weekend), so a quiet weekend or
a busy Monday morning is judged against its own kind. A slot before the customer's first usage
is no point of the baseline at all; a slot after it without spend is a point of zero.

Hourly anomalies come in runs (a spike lasting the afternoon): consecutive anomalous hours are
one episode and one alert, keyed by the episode's first hour (so the run growing as its hours
arrive raises nothing new) and carrying the numbers of its worst hour and the count of anomalous
hours that day. A customer-day gets at most ``HOURLY_ALERTS_PER_DAY`` hourly alerts, the worst
episodes first, so a day of chaos is a few alerts and not twenty-four. "Worst" is the most money
above the usual (then the highest z): past the threshold, a z-score mostly reflects how quiet
the hour used to be, not how much is at stake.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from partnerguard.common.events.types.monitoring import AlertKind
from partnerguard.monitoring.alerts.raising import Finding
from partnerguard.monitoring.detection.config import SpendAnomaly
from partnerguard.monitoring.detection.robust import RobustScore, robust_score
from partnerguard.monitoring.usage.spend import decimal_string

HOURLY_ALERTS_PER_DAY = 3
ZERO = Decimal(0)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def judge(
    observed: Decimal,
    baseline: Sequence[Decimal],
    *,
    z_threshold: float,
    min_increase: Decimal,
    config: SpendAnomaly,
) -> RobustScore | None:
    """The score when ``observed`` is anomalous against ``baseline``; None when it is not, or
    when the baseline has fewer than ``min_points`` points."""
    if len(baseline) < config.min_points:
        return None
    score = robust_score(observed, baseline, config.mad_floor_ratio)
    if score.z >= z_threshold and score.increase >= min_increase:
        return score
    return None


def daily_baseline(
    day: date, costs: Mapping[date, Decimal], first_usage_day: date, weeks: int
) -> list[Decimal]:
    """The customer's spend on the same weekday of the ``weeks`` weeks before ``day``."""
    points: list[Decimal] = []
    for week in range(1, weeks + 1):
        earlier = day - timedelta(weeks=week)
        if earlier < first_usage_day:
            break
        points.append(costs.get(earlier, ZERO))
    return points


def hourly_baseline(
    hour: datetime, costs: Mapping[datetime, Decimal], first_usage_hour: datetime, days: int
) -> list[Decimal]:
    """The customer's spend in the same hour of day on the days of the same kind among the
    ``days`` days before ``hour``'s."""
    working = is_working_day(hour.date())
    points: list[Decimal] = []
    for back in range(1, days + 1):
        earlier = hour - timedelta(days=back)
        if earlier < first_usage_hour:
            break
        if is_working_day(earlier.date()) == working:
            points.append(costs.get(earlier, ZERO))
    return points


def daily_anomaly(
    day: date,
    observed: Decimal,
    costs: Mapping[date, Decimal],
    first_usage_day: date,
    config: SpendAnomaly,
) -> RobustScore | None:
    """The score of ``day``'s spend when it is anomalous for its weekday, else None."""
    baseline = daily_baseline(day, costs, first_usage_day, config.daily_baseline_weeks)
    return judge(
        observed,
        baseline,
        z_threshold=config.daily_z,
        min_increase=config.min_daily_increase,
        config=config,
    )


@dataclass(frozen=True)
class HourAnomaly:
    hour: datetime
    score: RobustScore


def hourly_anomalies(
    day: date,
    costs: Mapping[datetime, Decimal],
    first_usage_hour: datetime,
    config: SpendAnomaly,
) -> list[HourAnomaly]:
    """The anomalous hours of ``day`` (those with spend only), in time order."""
    found: list[HourAnomaly] = []
    for hour, observed in costs.items():
        if hour.astimezone(UTC).date() != day or observed <= ZERO:
            continue
        baseline = hourly_baseline(hour, costs, first_usage_hour, config.hourly_baseline_days)
        score = judge(
            observed,
            baseline,
            z_threshold=config.hourly_z,
            min_increase=config.min_hourly_increase,
            config=config,
        )
        if score is not None:
            found.append(HourAnomaly(hour, score))
    return sorted(found, key=lambda anomaly: anomaly.hour)


def _severity(anomaly: HourAnomaly) -> tuple[Decimal, float]:
    return anomaly.score.increase, anomaly.score.z


@dataclass(frozen=True)
class HourlyEpisode:
    """Consecutive anomalous hours: one incident, one alert (keyed by its first hour)."""

    anomalies: tuple[HourAnomaly, ...]

    @property
    def first(self) -> datetime:
        return self.anomalies[0].hour

    @property
    def last(self) -> datetime:
        return self.anomalies[-1].hour

    @property
    def worst(self) -> HourAnomaly:
        """The hour furthest above its usual spend (in money: every hour here is unusual)."""
        return max(self.anomalies, key=_severity)


def hourly_episodes(anomalies: Sequence[HourAnomaly]) -> list[HourlyEpisode]:
    """``anomalies`` split into runs of consecutive hours, in time order."""
    runs: list[list[HourAnomaly]] = []
    for anomaly in sorted(anomalies, key=lambda a: a.hour):
        if runs and anomaly.hour - runs[-1][-1].hour == timedelta(hours=1):
            runs[-1].append(anomaly)
        else:
            runs.append([anomaly])
    return [HourlyEpisode(tuple(run)) for run in runs]


def episodes_to_report(
    customer_id: uuid.UUID, episodes: Sequence[HourlyEpisode], reported_keys: Collection[str]
) -> list[HourlyEpisode]:
    """The episodes not reported yet, worst first, as many as the day's share of hourly alerts
    leaves room for (``reported_keys``: the keys of the day's hourly alerts so far)."""
    room = HOURLY_ALERTS_PER_DAY - len(reported_keys)
    fresh = [e for e in episodes if hourly_key(customer_id, e.first) not in reported_keys]
    # Episodes come in time order and the sort is stable: equally bad ones, earliest first.
    fresh.sort(key=lambda episode: _severity(episode.worst), reverse=True)
    return fresh[: max(room, 0)]


_HOUR_FORMAT = "%Y-%m-%dT%H:%MZ"


def _hour_text(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime(_HOUR_FORMAT)


def daily_key(customer_id: uuid.UUID, day: date) -> str:
    return f"spend_anomaly:daily:{customer_id}:{day.isoformat()}"


def hourly_key(customer_id: uuid.UUID, hour: datetime) -> str:
    return f"spend_anomaly:hourly:{customer_id}:{_hour_text(hour)}"


def hourly_key_prefix(customer_id: uuid.UUID, day: date) -> str:
    """What the hourly keys of every hour of ``day`` start with."""
    return f"spend_anomaly:hourly:{customer_id}:{day.isoformat()}T"


def _score_evidence(
    score: RobustScore, threshold: float, min_increase: Decimal, currency: str
) -> dict[str, str | int | float]:
    return {
        "observed": decimal_string(score.observed),
        "median": decimal_string(score.median),
        "mad": decimal_string(score.mad),
        "scale": decimal_string(score.scale),
        "z": round(score.z, 2),
        "threshold": threshold,
        "increase": decimal_string(score.increase),
        "min_increase": decimal_string(min_increase),
        "baseline_points": score.points,
        "currency": currency,
    }


def daily_finding(
    customer_id: uuid.UUID,
    day: date,
    currency: str,
    score: RobustScore,
    config: SpendAnomaly,
    subscription_ids: Sequence[uuid.UUID] = (),
) -> Finding:
    weekday = day.strftime("%A")
    evidence = _score_evidence(score, config.daily_z, config.min_daily_increase, currency)
    evidence |= {
        "day": day.isoformat(),
        "weekday": weekday,
        "baseline_weeks": config.daily_baseline_weeks,
    }
    return Finding(
        kind=AlertKind.SPEND_ANOMALY,
        severity=config.severity,
        summary=(
            f"Spend of {evidence['observed']} {currency} on {day.isoformat()} is far above the "
            f"usual {evidence['median']} {currency} for a {weekday} (robust z {evidence['z']})"
        ),
        dedup_key=daily_key(customer_id, day),
        customer_id=customer_id,
        rule="daily",
        evidence=evidence,
        subscription_ids=subscription_ids,
    )


def hourly_finding(
    customer_id: uuid.UUID,
    episode: HourlyEpisode,
    anomalous_hours: int,
    currency: str,
    config: SpendAnomaly,
    subscription_ids: Sequence[uuid.UUID] = (),
) -> Finding:
    """The alert of one episode, with the numbers of its worst hour."""
    worst = episode.worst
    kind = "working_day" if is_working_day(worst.hour.date()) else "weekend"
    evidence = _score_evidence(worst.score, config.hourly_z, config.min_hourly_increase, currency)
    evidence |= {
        "hour": _hour_text(worst.hour),
        "day_kind": kind,
        "baseline_days": config.hourly_baseline_days,
        "episode_start": _hour_text(episode.first),
        "episode_end": _hour_text(episode.last + timedelta(hours=1)),
        "episode_hours": len(episode.anomalies),
        "anomalous_hours": anomalous_hours,
    }
    return Finding(
        kind=AlertKind.SPEND_ANOMALY,
        severity=config.severity,
        summary=(
            f"Spend of {evidence['observed']} {currency} in the hour from {evidence['hour']} is "
            f"far above the usual {evidence['median']} {currency} for that hour "
            f"(robust z {evidence['z']}; {len(episode.anomalies)} anomalous hour(s) in a row)"
        ),
        dedup_key=hourly_key(customer_id, episode.first),
        customer_id=customer_id,
        rule="hourly",
        evidence=evidence,
        subscription_ids=subscription_ids,
    )
