"""Steady mixed partner traffic through the gateway, with every service running as the platform
(``partnerguard run``, as the end-to-end tests launch it), for ``SECONDS`` (5 minutes).

One partner's systems, through the gateway with its OAuth token: the write lanes of the
end-to-end steady load (:mod:`tests.e2e.steady_load`: usage batches for monitoring, customers
taken through onboarding's whole signup, invoices and payments in billing, subscriptions
registered and held in enforcement, each lane paced on its own schedule), scaled to four fifths
of ``RATE`` requests per second, and reads across the four services offered open-loop at the
remaining fifth. Measured: requests answered per second, p50/p99 latency of every request,
errors (5xx, 429, connection errors, writes never accepted; an expected 4xx is not one) and the
resident memory of every process under the launcher (the five services, NATS), sampled every
``MEMORY_EVERY`` seconds. Targets: no errors; memory flat, each service's median over the last
minute within 10 % of its median over the first (NATS is shown, not judged: its streams keep
the new messages). The gateway's per-client rate limit is lifted: one client offers it
all.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.kernel_events import percentile
from bench.platform_run import UNLIMITED, resident_mb, whole_platform
from bench.samples import latency_sample, rate_series, thinned
from tests.e2e.customers import Customer, approved_customer, publish_collections_policy
from tests.e2e.platform import Platform
from tests.e2e.steady_load import PartnerSystem, Rates, SteadyLoad, Traffic
from tests.support.launcher import SERVICES

SECONDS = float(os.environ.get("BENCH_E2E_TRAFFIC_SECONDS", "300"))
RATE = float(os.environ.get("BENCH_E2E_TRAFFIC_RATE", "50"))
MEMORY_EVERY = 5.0
# The memory's medians compared: over the first and the last minute (a third of a short run).
WINDOW = min(60.0, SECONDS / 3)
TARGET_ERRORS = 0
TARGET_GROWTH_PCT = 10.0
READ_SHARE = 0.2
PARTNER = "bench-traffic"
# The steady load's own mix: requests a second of each lane at its default rates.
_DEFAULT_MIX = Rates()
_DEFAULT_RPS = (
    _DEFAULT_MIX.usage + _DEFAULT_MIX.onboarding + _DEFAULT_MIX.billing + _DEFAULT_MIX.holds
)
STOP_WITHIN = 60.0


@dataclass
class Answers:
    """Every request the partner's systems sent: when it was answered, how long it took, how."""

    completed_at: list[float] = field(default_factory=list)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)  # reads / writes
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # lanes that gave up, connection errors

    async def sent(self, request: httpx.Request) -> None:
        request.extensions["bench_sent_at"] = time.monotonic()

    async def answered(self, response: httpx.Response) -> None:
        now = time.monotonic()
        sent_at = response.request.extensions.get("bench_sent_at", now)
        kind = "reads" if response.request.method == "GET" else "writes"
        self.latency_ms.setdefault(kind, []).append((now - sent_at) * 1000)
        self.completed_at.append(now)
        self.statuses[response.status_code] += 1

    @property
    def errors(self) -> int:
        failed = sum(n for status, n in self.statuses.items() if status >= 500 or status == 429)
        return failed + len(self.failures)

    @property
    def expected_4xx(self) -> int:
        return sum(
            n for status, n in self.statuses.items() if 400 <= status < 500 and status != 429
        )


async def _allow_many_signups_per_card_range(http: httpx.AsyncClient) -> None:
    """Every applicant pays with a card of one range: more than the default velocity limit."""
    response = await http.put(
        "/v1/onboarding/risk-policy",
        json={
            "policy": {"velocity": {"card_bin": {"window_minutes": 60, "max_count": 100_000}}},
            "note": "bench: one card range for the whole load",
        },
    )
    response.raise_for_status()


async def _customers(platform: Platform) -> list[Customer]:
    """Six approved customers, their billing accounts and registry entries in place."""
    async with platform.client(PARTNER) as http:
        await _allow_many_signups_per_card_range(http)
        await publish_collections_policy(http)
        return list(
            await asyncio.gather(
                *(approved_customer(http, platform.outside, f"bench-{lane}") for lane in "uubbhh")
            )
        )


def _reads(customers: list[Customer]) -> list[tuple[str, dict[str, Any]]]:
    """What a partner's dashboards keep asking, across the four services."""
    paths: list[tuple[str, dict[str, Any]]] = [
        ("/v1/billing/invoices", {"limit": 20}),
        ("/v1/enforcement/holds", {"limit": 20}),
        ("/v1/monitoring/alerts", {"limit": 20}),
    ]
    for customer in customers:
        paths += [
            ("/v1/billing/accounts", {"customer_id": customer.customer_id}),
            (f"/v1/enforcement/customers/{customer.customer_id}", {}),
            (f"/v1/onboarding/customers/{customer.customer_id}", {}),
        ]
    return paths


async def _read_lane(
    http: httpx.AsyncClient, answers: Answers, reads: list[tuple[str, dict[str, Any]]], rate: float
) -> None:
    """Reads offered open-loop at ``rate`` a second until cancelled, each its own task."""
    pending: set[asyncio.Task[None]] = set()

    async def one(path: str, params: dict[str, Any]) -> None:
        try:
            await http.get(path, params=params)
        except httpx.TransportError as exc:
            answers.failures.append(f"GET {path}: {type(exc).__name__}")

    start = time.monotonic()
    try:
        for index, (path, params) in enumerate(itertools.cycle(reads)):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(path, params), name="bench:read")
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        if pending:
            await asyncio.wait(pending, timeout=STOP_WITHIN)


async def _watch_memory(
    platform: Platform, origin: float, seen: list[tuple[float, dict[str, float]]]
) -> None:
    """The resident memory of every process of the platform, every MEMORY_EVERY s, until cancelled."""
    while True:
        sample = await asyncio.to_thread(resident_mb, platform.run)
        seen.append((time.monotonic() - origin, sample))
        await asyncio.sleep(MEMORY_EVERY)


def _growth(seen: list[tuple[float, dict[str, float]]], end: float) -> dict[str, dict[str, float]]:
    """Per process group: median MB over the first and the last WINDOW seconds, and the change."""
    owners = sorted({owner for _, sample in seen for owner in sample})
    growth: dict[str, dict[str, float]] = {}
    for owner in owners:
        first = [s[owner] for at, s in seen if at <= WINDOW and owner in s]
        last = [s[owner] for at, s in seen if at >= end - WINDOW and owner in s]
        if not first or not last:
            continue
        before, after = statistics.median(first), statistics.median(last)
        growth[owner] = {
            "first_mb": round(before, 1),
            "last_mb": round(after, 1),
            "growth_pct": round((after - before) / before * 100, 1) if before else 0.0,
        }
    return growth


async def _traffic(platform: Platform, customers: list[Customer]) -> dict[str, Any]:
    answers = Answers()
    traffic = Traffic()
    scale = RATE * (1 - READ_SHARE) / _DEFAULT_RPS
    rates = Rates(
        usage=_DEFAULT_MIX.usage * scale,
        usage_workers=max(3, round(3 * scale)),
        onboarding=_DEFAULT_MIX.onboarding * scale,
        onboarding_workers=max(2, round(2 * scale)),
        billing=_DEFAULT_MIX.billing * scale,
        holds=_DEFAULT_MIX.holds * scale,
    )
    http = platform.client(PARTNER)
    http.event_hooks = {"request": [answers.sent], "response": [answers.answered]}
    memory: list[tuple[float, dict[str, float]]] = []
    async with http:
        load = SteadyLoad(
            PartnerSystem(http, traffic),
            platform.outside,
            usage_customers=customers[0:2],
            billing_customers=customers[2:4],
            hold_customers=customers[4:6],
            usage_day=(datetime.now(UTC) - timedelta(days=1)).date(),
            rates=rates,
        )
        start = time.monotonic()
        watching = asyncio.create_task(_watch_memory(platform, start, memory), name="bench:memory")
        reading = asyncio.create_task(
            _read_lane(http, answers, _reads(customers), RATE * READ_SHARE), name="bench:reads"
        )
        writing = asyncio.create_task(load.run(), name="bench:writes")
        done, _ = await asyncio.wait({writing}, timeout=SECONDS)
        end = time.monotonic()
        load.stop()
        reading.cancel()
        try:
            await asyncio.wait_for(writing, STOP_WITHIN)
        except Exception as exc:  # noqa: BLE001 - a lane that gave up is an error to count
            answers.failures.append(f"writes: {type(exc).__name__}: {str(exc)[:500]}")
        await asyncio.gather(reading, return_exceptions=True)
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    answers.failures += [
        f"{what} (retried)"
        for what, n in traffic.retried.items()
        for _ in range(n)
        if not what.isdigit()
    ]
    return {
        "answers": answers,
        "start": start,
        "end": end,
        "memory": memory,
        "answered_by_lane": dict(traffic.answered),
        "retried": dict(traffic.retried),
    }


async def run() -> dict[str, Any]:
    async with whole_platform(UNLIMITED) as platform:
        customers = await _customers(platform)
        measured = await _traffic(platform, customers)
    answers: Answers = measured["answers"]
    start, end = measured["start"], measured["end"]
    seconds = end - start
    within = [at for at in answers.completed_at if at <= end]
    latencies = sorted(ms for series in answers.latency_ms.values() for ms in series)
    growth = _growth(measured["memory"], seconds)
    # Judged on the services' own processes: NATS keeps the streams' new messages (data, not a
    # leak) and the launcher only supervises.
    worst = max((g["growth_pct"] for k, g in growth.items() if k in SERVICES), default=0.0)
    errors = answers.errors
    flat = worst <= TARGET_GROWTH_PCT
    passed = errors <= TARGET_ERRORS and flat and bool(latencies)
    figures = {
        "seconds": round(seconds, 1),
        "offered_rps": RATE,
        "achieved_rps": round(len(within) / seconds, 1),
        "requests": len(answers.completed_at),
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "reads_p99_ms": _p99(answers.latency_ms.get("reads")),
        "writes_p99_ms": _p99(answers.latency_ms.get("writes")),
        "errors": errors,
        "error_examples": answers.failures[:5],
        "expected_4xx": answers.expected_4xx,
        "statuses": {str(k): v for k, v in sorted(answers.statuses.items())},
        "answered_by_lane": measured["answered_by_lane"],
        "retried": measured["retried"],
        "memory_window_s": WINDOW,
        "memory": growth,
        "rss_growth_pct_max": worst,
        "target_errors_max": TARGET_ERRORS,
        "target_rss_growth_pct_max": TARGET_GROWTH_PCT,
        "errors_target": "PASS" if errors <= TARGET_ERRORS else "FAIL",
        "memory_target": "PASS" if flat else "FAIL",
        "result": "PASS" if passed else "FAIL",
        "shared_cpus": len(os.sched_getaffinity(0)),
    }
    owners = sorted({owner for _, sample in measured["memory"] for owner in sample})
    samples = {
        "latency_ms": {kind: latency_sample(ms) for kind, ms in sorted(answers.latency_ms.items())},
        "throughput": {
            "unit": "requests/s",
            "x": "s since the traffic started",
            "series": {"answered": rate_series(within, start, end, points=60)},
        },
        "memory_mb": {
            "x": "s since the traffic started",
            "series": {
                owner: thinned(
                    [
                        [round(at, 1), sample[owner]]
                        for at, sample in measured["memory"]
                        if owner in sample
                    ]
                )
                for owner in owners
            },
        },
    }
    sys.stdout.write(
        f"\nsteady traffic through the gateway for {seconds:.0f} s at {RATE:.0f} requests/s "
        f"offered: {figures['achieved_rps']} answered/s, p50 {figures['p50_ms']} ms, p99 "
        f"{figures['p99_ms']} ms, {errors} errors ({answers.expected_4xx} expected 4xx), memory "
        f"growth at most {worst:+.1f} % — {figures['result']}\n"
    )
    return {"description": __doc__, "figures": figures, "samples": samples}


def _p99(latencies: list[float] | None) -> float | None:
    return round(percentile(sorted(latencies), 0.99), 1) if latencies else None
