"""The kernel's event path on real, durable servers (PostgreSQL fsync on, NATS sync always).

- baseline: raw JetStream publishes, one at a time, as the relay does them;
- relay: draining a backlog of committed outbox events to JetStream (ratio to the baseline);
- latency: events committed one per transaction at a steady rate, from commit to the
  consumer's handler, through relay, stream and inbox (p50/p99).

Each round measures all three; the figures are medians over ``REPEATS`` rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bench.samples import Point, latency_sample, rate_series
from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from partnerguard.cli.provision import provision
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer, Handlers
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.events.catalog import EventCatalog, EventData
from partnerguard.common.events.envelope import Event
from partnerguard.common.migrations import upgrade
from partnerguard.common.outbox import OutboxRelay, emit
from partnerguard.common.settings import normalise_database_url

BENCH_CATALOG = EventCatalog()
BACKLOG = int(os.environ.get("BENCH_KERNEL_BACKLOG", "5000"))
RATE = int(os.environ.get("BENCH_KERNEL_RATE", "200"))  # events per second for the latency run
DURATION = float(os.environ.get("BENCH_KERNEL_SECONDS", "10"))
REPEATS = int(os.environ.get("BENCH_KERNEL_ROUNDS", "3"))


class Pinged(EventData):
    """A benchmark event stamped with its commit time."""

    catalog = BENCH_CATALOG
    event_type = "monitoring.bench.pinged"

    sent_at: datetime
    padding: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", port=free_port())
        nats = EmbeddedNats(Path(tmp) / "nats", port=free_port())
        pg.start()
        nats.start()
        try:
            return await _measure(pg, nats)
        finally:
            nats.stop()
            pg.stop()


async def _measure(pg: EmbeddedPostgres, nats: EmbeddedNats) -> dict[str, Any]:
    [database] = (await provision(pg.url, ["bench"])).values()
    await asyncio.to_thread(upgrade, database.owner_url, None)
    db = Database(
        make_engine(normalise_database_url(database.app_url), application_name="bench"),
        make_engine(normalise_database_url(database.sweep_url), application_name="bench-sweep"),
    )
    bus = await EventBus.connect(nats.url, name="bench")
    await bus.ensure_streams()
    try:
        baseline: list[float] = []
        relay: list[float] = []
        rounds: list[dict[str, float]] = []
        latency: list[float] = []
        handled: dict[str, list[Point]] = {}
        for number in range(REPEATS):
            baseline.append(await _raw_publish(bus))
            relay.append(await _relay_backlog(db, bus))
            latencies, handled_at, started = await _latency(db, bus)
            latency += latencies
            handled[f"round {number + 1}"] = rate_series(
                handled_at, started, max(handled_at, default=started)
            )
            rounds.append(
                {
                    "raw_publish_per_s": round(baseline[-1]),
                    "relay_per_s": round(relay[-1]),
                    "relay_to_raw_ratio": round(relay[-1] / baseline[-1], 3),
                    "commit_to_handled_p50_ms": round(percentile(latencies, 0.50), 2),
                    "commit_to_handled_p99_ms": round(percentile(latencies, 0.99), 2),
                }
            )
    finally:
        await bus.close()
        await db.dispose()
    base, rel = statistics.median(baseline), statistics.median(relay)
    return {
        "description": __doc__,
        "figures": {
            "raw_publish_per_s": round(base),
            "relay_per_s": round(rel),
            "relay_to_raw_ratio": round(rel / base, 3),
            "commit_to_handled_p50_ms": round(
                statistics.median(r["commit_to_handled_p50_ms"] for r in rounds), 2
            ),
            "commit_to_handled_p99_ms": round(
                statistics.median(r["commit_to_handled_p99_ms"] for r in rounds), 2
            ),
            "latency_rate_per_s": RATE,
            "latency_samples": len(latency),
            "rounds": rounds,
        },
        "runs": {"raw_publish_per_s": baseline, "relay_per_s": relay},
        "samples": {
            "latency_ms": {"commit → handled": latency_sample(latency)},
            "throughput": {
                "unit": "events handled/s",
                "x": "s since the round's first commit",
                "series": handled,
            },
        },
    }


async def _raw_publish(bus: EventBus) -> float:
    partner = uuid.uuid4()
    payload = b"x" * 400
    started = time.perf_counter()
    for _ in range(BACKLOG):
        await bus.publish(f"monitoring.{partner}.bench.pinged", payload, msg_id=str(uuid.uuid4()))
    return BACKLOG / (time.perf_counter() - started)


async def _relay_backlog(db: Database, bus: EventBus) -> float:
    partner = uuid.uuid4()
    for start in range(0, BACKLOG, 500):
        async with db.tenant_session(partner) as session:
            for i in range(start, start + 500):
                await emit(
                    session,
                    Pinged(sent_at=datetime.now(UTC), padding="x" * 200),
                    partner_id=partner,
                    subject=f"agg-{i % 50}",
                )
    relay = OutboxRelay(db, bus, service="bench", batch_size=500)
    started = time.perf_counter()
    sent = 0
    while sent < BACKLOG:
        sent += await relay.relay_once()
    return BACKLOG / (time.perf_counter() - started)


async def _latency(db: Database, bus: EventBus) -> tuple[list[float], list[float], float]:
    """Commit-to-handled latencies (ms), when each was handled, and when the first was due
    (``perf_counter`` seconds)."""
    partner = uuid.uuid4()
    latencies: list[float] = []
    handled_at: list[float] = []
    total = int(RATE * DURATION)
    all_handled = asyncio.Event()
    handlers = Handlers()

    @handlers.on(Pinged)
    async def handle(session: AsyncSession, event: Event[Pinged]) -> None:
        latencies.append((datetime.now(UTC) - event.data.sent_at).total_seconds() * 1000)
        handled_at.append(time.perf_counter())
        if len(latencies) >= total:
            all_handled.set()

    stop = asyncio.Event()
    relay = OutboxRelay(db, bus, service="bench")
    consumer = EventConsumer(
        bus,
        db,
        ConsumerSpec(
            durable=f"bench-{partner.hex[:8]}",
            stream="MONITORING",
            subjects=[f"monitoring.{partner}.>"],
            fetch_timeout=0.05,
            batch=50,
        ),
        handlers,
    )
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
    started = time.perf_counter()
    for i in range(total):
        # Open-loop: send on schedule whatever the system's speed, so slowness shows as latency.
        await asyncio.sleep(max(0.0, started + i / RATE - time.perf_counter()))
        async with db.tenant_session(partner) as session:
            await emit(
                session,
                Pinged(sent_at=datetime.now(UTC), padding="x" * 200),
                partner_id=partner,
                subject=f"agg-{i % 50}",
            )
    try:
        await asyncio.wait_for(all_handled.wait(), 30)
    finally:
        stop.set()
    await asyncio.gather(*tasks)
    return latencies, handled_at, started
