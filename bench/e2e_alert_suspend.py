"""End to end from an alert to the provider's suspend call, with every service running as the
platform (``partnerguard run``, as the end-to-end tests launch it).

A partner, through the gateway with its OAuth token, saves an enforcement policy suspending at
once on critical crypto-mining alerts and registers customers with one new-commerce
subscription each (enforcement's registry and the vendor's fake partner API). Alerts are then
published open-loop at ``RATE`` per second on the platform's NATS as monitoring emits them
(``monitoring.alert.raised`` CloudEvents), each about another customer. The latency of each is
from when it was due to the vendor fake's suspension of its subscription (the fake runs in this
process: one clock). Target: p99 ≤ 500 ms at 100 alerts/s, every alert suspended.

Enforcement runs as ``ENFORCEMENT_PROCESSES`` processes sharing its port (2, as in the
enforcement benchmark; one process manages about 70 alerts/s on this machine), every other
service as one. The gateway's per-client rate limit is lifted for the setup's registrations.
Each round alerts about new customers; the figures are medians over ``ROUNDS`` rounds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

from bench.enforcement_suspend import (
    POLICY,
    over_rounds,
    publish_alerts,
    register,
    suspension_figures,
    wait_for_changes,
)
from bench.platform_run import UNLIMITED, nats_url, whole_platform
from partnerguard.common.bus.connection import EventBus
from tests.e2e.platform import Platform

RATE = float(os.environ.get("BENCH_E2E_ALERT_RATE", "100"))
DURATION = float(os.environ.get("BENCH_E2E_ALERT_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_E2E_ALERT_ROUNDS", "3"))
PROCESSES = int(os.environ.get("BENCH_E2E_ALERT_PROCESSES", "2"))
TARGET_P99_MS = 500.0
PARTNER = "bench-alerts"
SETTLE_WITHIN = 60.0
# Customers are registered long before they misbehave: the registrations' own events (relays,
# consumers, webhooks) are let through before the first alert.
QUIET_BEFORE_ALERTS = 3.0


async def _round(platform: Platform, bus: EventBus, partner_id: uuid.UUID) -> dict[str, Any]:
    fake = platform.outside.provider
    count = int(RATE * DURATION)
    async with platform.client(PARTNER) as http:
        (await http.put("/v1/enforcement/policies", json=POLICY)).raise_for_status()
        targets = await register(http, fake, count)
    await asyncio.sleep(QUIET_BEFORE_ALERTS)
    already = len(fake.changes)
    sent = await publish_alerts(bus, partner_id, targets, RATE)
    await asyncio.to_thread(wait_for_changes, fake, already + count, SETTLE_WITHIN)
    if len(fake.changes) - already < count:
        errors = [line for line in platform.log_tail(2_000_000).splitlines() if "error" in line]
        sys.stderr.write(
            f"not every alert was carried out; {len(errors)} error lines in the platform's "
            f"log, the last: {errors[-1][:3000] if errors else '-'}\n"
        )
    return suspension_figures(fake, sent, already, count)


async def run() -> dict[str, Any]:
    started = time.monotonic()
    async with whole_platform(UNLIMITED | {"ENFORCEMENT_PROCESSES": str(PROCESSES)}) as platform:
        partner = await platform.partner(PARTNER)
        bus = await EventBus.connect(nats_url(platform), name="bench-e2e-alerts")
        try:
            rounds = [await _round(platform, bus, partner.partner_id) for _ in range(ROUNDS)]
        finally:
            await bus.close()
    samples, complete, p50, p99 = over_rounds(rounds, "alert → provider suspend")
    passed = complete and p99 <= TARGET_P99_MS
    sys.stdout.write(
        f"\nend to end, alert to provider suspend at {RATE:.0f} alerts/s: p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms (median of {ROUNDS} rounds), every alert suspended: {complete} — "
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms: {'PASS' if passed else 'FAIL'} "
        f"({time.monotonic() - started:.0f} s in all)\n"
    )
    return {
        "description": __doc__,
        "figures": {
            "rate_per_s": RATE,
            "duration_s": DURATION,
            "enforcement_processes": PROCESSES,
            "p50_ms": p50,
            "p99_ms": p99,
            "target_p99_ms_max": TARGET_P99_MS,
            "all_suspended": complete,
            "result": "PASS" if passed else "FAIL",
            "rounds": rounds,
            "shared_cpus": len(os.sched_getaffinity(0)),
        },
        "samples": samples,
    }
