"""Usage ingestion throughput: HTTP batches into PostgreSQL with de-duplication, against a raw
COPY of the same rows into the same table in the same run.

The monitoring API runs as a real uvicorn process (2 workers) on embedded PostgreSQL; the
client, the API and PostgreSQL share the machine's cores. Each round sends the same records
two ways, under two fresh partners:

- **raw COPY**: the rows, already as Python tuples, copied into ``usage_records`` by asyncpg
  ``copy_records_to_table`` over one connection: the floor of what storing them costs;
- **HTTP path**: ``POST /v1/monitoring/usage`` batches of 10,000 JSON records from
  ``CONCURRENCY`` clients: each record validated, de-duplicated by id, stored, and added to the
  hourly, daily and customer-day aggregates and the first-seen footprints, one transaction a
  batch. A share of each batch (``BENCH_USAGE_RESENT``, 2 %) repeats ids of the batch before
  (a feed re-sending).

Beside them, for information, a **bare INSERT by the service's own role**, to tell the cost of
storing from the rest of the path. That role is under row-level security, which refuses it COPY
FROM ("COPY FROM not supported with row-level security"; the raw COPY above runs as the sweep
role, which bypasses it). The cheapest de-duplicating store it may use is one
``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` a batch of the same records (re-sent
ones too), its arrays written before the clock starts, over ``WORKERS`` connections at once,
with no aggregates and no checks.

Figures are medians over ``ROUNDS`` rounds. Target: ≥ 50,000 records/s and ≥ 0.5 of raw COPY.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from bench.harness import ServiceUnderTest, service_under_test
from bench.samples import Point, joined, rate_series
from partnerguard.common.db.rls import PARTNER_SETTING
from partnerguard.monitoring.spec import SPEC
from partnerguard.monitoring.usage.repository import array_literal

BATCH = 10_000
BATCHES = int(os.environ.get("BENCH_USAGE_BATCHES", "20"))
ROUNDS = int(os.environ.get("BENCH_USAGE_ROUNDS", "3"))
CONCURRENCY = 4
WORKERS = 2
CUSTOMERS = 500
# Of each batch after the first, this share re-sends ids of the batch before.
RESENT = float(os.environ.get("BENCH_USAGE_RESENT", "0.02"))
TARGET_RPS = 50_000.0
TARGET_RATIO = 0.5
AUDIENCE = "partnerguard:monitoring"
COLUMNS = (
    "partner_id",
    "record_id",
    "customer_id",
    "subscription_id",
    "meter",
    "meter_category",
    "resource_type",
    "region",
    "quantity",
    "unit",
    "cost",
    "currency",
    "usage_start",
    "usage_end",
    "heavy_compute",
)
SIZES = [
    ("Standard_D2s_v5", "D2s v5", "Virtual Machines"),
    ("Standard_E4s_v5", "E4s v5", "Virtual Machines"),
    ("Standard_NC24ads_A100_v4", "NC24ads A100 v4", "Virtual Machines"),
    ("Storage_Hot_LRS", "Hot LRS Data Stored", "Storage"),
    ("SQL_Database_GP", "vCore", "SQL Database"),
]
REGIONS = ["westeurope", "northeurope", "eastus", "germanywestcentral"]


def _batches(seed: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    customers = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(CUSTOMERS)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    batches: list[list[dict[str, Any]]] = []
    for number in range(BATCHES):
        batch = []
        resent = int(BATCH * RESENT) if batches else 0
        batch.extend(rng.sample(batches[-1], resent) if resent else [])
        for _ in range(BATCH - resent):
            customer = rng.choice(customers)
            resource_type, meter, category = rng.choice(SIZES)
            # A feed delivers recent usage: each batch is about one hour, for every customer.
            at = start + timedelta(hours=number, minutes=rng.randrange(60))
            batch.append(
                {
                    "record_id": f"r-{seed}-{number}-{rng.getrandbits(64):x}",
                    "customer_id": str(customer),
                    "subscription_id": str(uuid.UUID(int=customer.int ^ rng.randrange(3))),
                    "meter": meter,
                    "meter_category": category,
                    "resource_type": resource_type,
                    "region": rng.choice(REGIONS),
                    "quantity": f"{rng.randrange(1, 100)}.{rng.randrange(1000):03d}",
                    "unit": "1 Hour",
                    "cost": f"{rng.randrange(0, 50)}.{rng.randrange(10**6):06d}",
                    "currency": "EUR",
                    "usage_start": at.isoformat(),
                    "usage_end": (at + timedelta(hours=1)).isoformat(),
                }
            )
        batches.append(batch)
    return batches


def _tuples(
    partner_id: uuid.UUID, batch: list[dict[str, Any]], seen: set[str]
) -> list[tuple[Any, ...]]:
    """The batch as COPY takes it: typed values, ids not copied before (COPY has no ON
    CONFLICT)."""
    unique = {r["record_id"]: r for r in batch if r["record_id"] not in seen}
    seen.update(unique)
    return [
        (
            partner_id,
            r["record_id"],
            uuid.UUID(r["customer_id"]),
            uuid.UUID(r["subscription_id"]),
            r["meter"],
            r["meter_category"],
            r["resource_type"],
            r["region"],
            Decimal(r["quantity"]),
            r["unit"],
            Decimal(r["cost"]),
            r["currency"],
            datetime.fromisoformat(r["usage_start"]),
            datetime.fromisoformat(r["usage_end"]),
            r["resource_type"].startswith("Standard_NC"),
        )
        for r in unique.values()
    ]


_FLOOR = """
INSERT INTO usage_records (partner_id, record_id, customer_id, subscription_id, meter,
                           meter_category, resource_type, region, quantity, unit, cost, currency,
                           usage_start, usage_end, heavy_compute)
SELECT $1, * FROM unnest($2::text::text[], $3::text::uuid[], $4::text::uuid[], $5::text::text[],
                         $6::text::text[], $7::text::text[], $8::text::text[],
                         $9::text::numeric[], $10::text::text[], $11::text::numeric[],
                         $12::text::text[], $13::text::timestamptz[], $14::text::timestamptz[],
                         $15::text::bool[])
ON CONFLICT DO NOTHING
"""


def _floor_arrays(batch: list[dict[str, Any]]) -> list[str]:
    """A batch as the floor's statement binds it: each column an array literal. Rows in id
    order, as the service stores them: two batches sharing ids then never deadlock."""
    rows = sorted(_tuples(uuid.UUID(int=0), batch, set()), key=lambda row: row[1])
    columns = list(zip(*rows, strict=True))[1:]
    return [
        array_literal(
            ["t" if value is True else "f" if value is False else str(value) for value in column]
        )
        for column in columns
    ]


@dataclass
class _Progress:
    """When a path began, and when each of its batches was stored with how many records."""

    began: float
    done_at: list[float] = field(default_factory=list)
    records: list[float] = field(default_factory=list)

    def stored(self, records: int) -> None:
        self.done_at.append(time.perf_counter())
        self.records.append(records)

    def timeline(self, origin: float) -> list[Point]:
        # Batches land in lumps: a bin of about two batches each.
        return rate_series(
            self.done_at,
            self.began,
            max(self.done_at, default=self.began),
            origin=origin,
            points=max(1, len(self.done_at) // 2),
            weights=self.records,
        )


async def _copy_round(url: str, rows: list[list[tuple[Any, ...]]]) -> tuple[float, _Progress]:
    conn = await asyncpg.connect(url)
    try:
        progress = _Progress(began=time.perf_counter())
        for chunk in rows:
            await conn.copy_records_to_table("usage_records", records=chunk, columns=COLUMNS)
            progress.stored(len(chunk))
        return time.perf_counter() - progress.began, progress
    finally:
        await conn.close()


async def _floor_round(
    url: str, partner_id: uuid.UUID, batches: list[list[str]]
) -> tuple[float, int]:
    connections = [await asyncpg.connect(url) for _ in range(WORKERS)]
    try:
        for conn in connections:
            # Session-wide, as each of the service's transactions sets it for itself.
            await conn.execute("SELECT set_config($1, $2, false)", PARTNER_SETTING, str(partner_id))

        async def store(conn: asyncpg.Connection, share: list[list[str]]) -> None:
            for arrays in share:
                await conn.execute(_FLOOR, partner_id, *arrays)

        began = time.perf_counter()
        await asyncio.gather(
            *(store(conn, batches[number::WORKERS]) for number, conn in enumerate(connections))
        )
        seconds = time.perf_counter() - began
        stored: int = await connections[0].fetchval(
            "SELECT count(*) FROM usage_records WHERE partner_id = $1", partner_id
        )
        return seconds, stored
    finally:
        for conn in connections:
            await conn.close()


async def _http_round(
    base: str, token: str, bodies: list[bytes], sizes: list[int]
) -> tuple[float, dict[str, int], _Progress]:
    queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    for body, size in zip(bodies, sizes, strict=True):
        queue.put_nowait((body, size))
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
            while not queue.empty():
                body, size = queue.get_nowait()
                response = await http.post("/v1/monitoring/usage", content=body)
                response.raise_for_status()
                progress.stored(size)
                summary = response.json()
                totals["accepted"] += summary["accepted"]
                totals["duplicates"] += summary["duplicates"]
                totals["rejected"] += len(summary["rejected"])

    progress = _Progress(began=time.perf_counter())
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return time.perf_counter() - progress.began, totals, progress


async def _measure(service: ServiceUnderTest) -> dict[str, Any]:
    copy_rates: list[float] = []
    http_rates: list[float] = []
    floor_rates: list[float] = []
    rounds: list[dict[str, Any]] = []
    timelines: dict[str, list[list[Point]]] = {"HTTP": [], "raw COPY": []}
    origin = time.perf_counter()
    for round_number in range(ROUNDS):
        batches = _batches(seed=round_number)
        records = sum(len(batch) for batch in batches)
        copy_partner, http_partner, floor_partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        seen: set[str] = set()
        copy_rows = [_tuples(copy_partner, batch, seen) for batch in batches]
        copied = sum(len(chunk) for chunk in copy_rows)
        bodies = [json.dumps({"records": batch}).encode() for batch in batches]
        floor_batches = [_floor_arrays(batch) for batch in batches]
        token = service.issuer.token(
            http_partner, ["monitoring:write"], audience=AUDIENCE, lifetime=3600
        )
        copy_seconds, copied_progress = await _copy_round(service.database.sweep_url, copy_rows)
        floor_seconds, floor_stored = await _floor_round(
            service.database.app_url, floor_partner, floor_batches
        )
        if floor_stored != copied:
            raise RuntimeError(f"the floor's INSERT stored {floor_stored}, not {copied} records")
        try:
            http_seconds, totals, sent_progress = await _http_round(
                service.base_url, token, bodies, [len(batch) for batch in batches]
            )
        except httpx.HTTPStatusError as exc:
            log = await asyncio.to_thread(service.log.read_text)
            raise RuntimeError(f"{exc}; the API's log ends:\n{log[-3000:]}") from exc
        if totals["accepted"] != copied or totals["rejected"]:
            raise RuntimeError(f"the HTTP path stored {totals}, expected {copied} new records")
        # Both paths are charged for every record sent; COPY sent only the distinct ones.
        copy_rates.append(copied / copy_seconds)
        timelines["raw COPY"].append(copied_progress.timeline(origin))
        timelines["HTTP"].append(sent_progress.timeline(origin))
        http_rates.append(records / http_seconds)
        floor_rates.append(records / floor_seconds)
        rounds.append(
            {
                "records": records,
                "distinct": copied,
                "copy_s": round(copy_seconds, 3),
                "http_s": round(http_seconds, 3),
                "copy_rps": round(copy_rates[-1]),
                "http_rps": round(http_rates[-1]),
                "ratio_to_copy": round(http_rates[-1] / copy_rates[-1], 3),
                "floor_s": round(floor_seconds, 3),
                "floor_rps": round(floor_rates[-1]),
                "ratio_to_floor": round(http_rates[-1] / floor_rates[-1], 3),
            }
        )
        sys.stdout.write(f"round {round_number}: {rounds[-1]}\n")
    copy_rps = statistics.median(copy_rates)
    http_rps = statistics.median(http_rates)
    ratio = http_rps / copy_rps
    floor_rps = statistics.median(floor_rates)
    passed = http_rps >= TARGET_RPS and ratio >= TARGET_RATIO
    sys.stdout.write(
        f"\nusage ingestion: HTTP {http_rps:,.0f} records/s, raw COPY {copy_rps:,.0f} records/s, "
        f"ratio {ratio:.2f} — target ≥ {TARGET_RPS:,.0f}/s and ≥ {TARGET_RATIO}: "
        f"{'PASS' if passed else 'FAIL'}\n"
        f"(a bare INSERT by the service's role, under row-level security: "
        f"{floor_rps:,.0f} records/s; HTTP is {http_rps / floor_rps:.2f} of it)\n"
    )
    return {
        "description": __doc__,
        "figures": {
            "http_records_per_s": round(http_rps),
            "copy_records_per_s": round(copy_rps),
            "ratio_to_copy": round(ratio, 3),
            "insert_floor_records_per_s": round(floor_rps),
            "ratio_to_insert_floor": round(http_rps / floor_rps, 3),
            "target_records_per_s": TARGET_RPS,
            "target_ratio": TARGET_RATIO,
            "result": "PASS" if passed else "FAIL",
            "rounds": rounds,
            "batch": BATCH,
            "batches_per_round": BATCHES,
            "concurrency": CONCURRENCY,
            "api_workers": WORKERS,
            "shared_cpus": len(os.sched_getaffinity(0)),
        },
        "samples": {
            "throughput": {
                "unit": "records/s",
                "x": "s since the first round began",
                "series": {name: joined(parts) for name, parts in timelines.items()},
            }
        },
    }


async def run() -> dict[str, Any]:
    async with service_under_test(SPEC, workers=WORKERS) as service:
        return await _measure(service)
