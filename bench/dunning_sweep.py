"""One scheduled dunning sweep over 1,000,000 open invoices, on embedded PostgreSQL with its
default (durable) settings, as the sweep role.

The data: 100,000 accounts of 4 partners (one with its own policy and a minimum amount), 10
open invoices each, issued over the 120 days before ``as_of`` on 15 to 45 days' terms (so
three quarters, about 750,000, are past due, by up to 105 days), 5% partly paid, 1% disputed,
1% of accounts waiting for a reported payment to post, 10% of accounts without a billing
e-mail. Rows are stored in the order the invoices were issued, as real data accrues;
``BENCH_DUNNING_LAYOUT=shuffled`` stores them in random order instead (the worst case for the
walk by due date). Dunning has run before: every step that was due yesterday has been taken
(and accounts past the suspension step are delinquent), except for 2% of the overdue invoices
that no sweep has seen yet (imported, or missed). So the sweep measured is the daily one in
steady state: it walks every open invoice past due, takes the steps that fall due today plus
the missed invoices' catch-up steps, and writes their actions, events, notices and
delinquencies.

Measured: wall time of one ``run_dunning_sweep`` over every partner (target ≤ 30 s) and the
process's resident memory sampled every 10 ms during it (flat: peak minus start stays small
and stops growing after the first slices, whatever the number of invoices). Then the same
sweep again, which has nothing left to do.

Each round loads the data into a new PostgreSQL and sweeps it; the figures are medians over
``ROUNDS`` rounds (the lists and breakdowns are those of the median round by sweep time).
``BENCH_DUNNING_INVOICES`` sets a smaller data set (ten invoices an account) for a quick look.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from bench.samples import Point, rate_series, thinned
from partnerguard.billing.dunning.engine import run_dunning_sweep
from partnerguard.billing.dunning.policy import DEFAULT_POLICY, DunningPolicy, ScheduledStep
from partnerguard.billing.dunning.policy import policy_to_stored as stored
from partnerguard.billing.spec import SPEC
from partnerguard.cli.embedded import EmbeddedPostgres, free_port
from partnerguard.cli.provision import plain_url, provision
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.events.types.billing import DunningStep
from partnerguard.common.logging import configure_logging
from partnerguard.common.migrations import upgrade
from partnerguard.common.settings import normalise_database_url

INVOICES = int(os.environ.get("BENCH_DUNNING_INVOICES", "1000000"))
ACCOUNTS = INVOICES // 10
ROUNDS = int(os.environ.get("BENCH_DUNNING_ROUNDS", "3"))
PARTNERS = 4
AS_OF = date(2026, 6, 1)
BATCH_SIZE = 5000  # BillingSettings.dunning_batch_size
TARGET_SECONDS = 30.0
LAYOUT = os.environ.get("BENCH_DUNNING_LAYOUT", "issued")
# Partner 0 dunns later and leaves small amounts alone; the others keep the default.
CUSTOM_POLICY = DunningPolicy(
    (
        ScheduledStep(DunningStep.REMINDER, 3),
        ScheduledStep(DunningStep.FINAL_NOTICE, 10),
        ScheduledStep(DunningStep.SUSPENSION_REQUEST, 21),
        ScheduledStep(DunningStep.TERMINATION_REQUEST, 45),
    ),
    minimum_amount=5_000,
)


async def run() -> dict[str, Any]:
    # The sweep logs a line per slice at debug level; the figures are what this reports.
    configure_logging("billing", "WARNING", json=False)
    rounds: list[_Round] = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="dunning-bench-") as tmp:
            pg = EmbeddedPostgres(Path(tmp) / "pg", port=free_port())
            pg.start()
            try:
                rounds.append(await _measure(pg))
            finally:
                pg.stop()
        _report(rounds[-1].figures)
    figures = _medians([r.figures for r in rounds])
    passed = figures["sweep_seconds"] <= TARGET_SECONDS and all(r.completed for r in rounds)
    figures["target"] = "PASS" if passed else "FAIL"
    figures["rounds"] = [{key: r.figures[key] for key in _ROUND_KEYS} for r in rounds]
    sys.stdout.write(f"median of {ROUNDS} rounds:")
    _report(figures)
    return {
        "description": __doc__,
        "figures": figures,
        "samples": {
            "throughput": {
                "unit": f"invoices walked/s (≈, {BATCH_SIZE:,} a slice)",
                "x": "s since the sweep began",
                "series": {f"round {n + 1}": r.walked for n, r in enumerate(rounds)},
            },
            "memory_mb": {
                "x": "s since the sweep began",
                "series": {f"round {n + 1}": r.rss for n, r in enumerate(rounds)},
            },
        },
    }


_ROUND_KEYS = (
    "sweep_seconds",
    "invoices_per_s",
    "rss_growth_mb",
    "rss_peak_mb",
    "repeat_sweep_seconds",
    "invoices_examined",
    "steps_executed",
    "load_seconds",
    "target",
)


@dataclass
class _Round:
    """One round's figures, and its sweep's progress and memory over time."""

    figures: dict[str, Any]
    completed: bool
    walked: list[Point]
    rss: list[Point]


def _medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the rounds; the rest from the median round."""
    middle = sorted(rounds, key=lambda figures: figures["sweep_seconds"])[(len(rounds) - 1) // 2]
    figures: dict[str, Any] = {}
    for key, value in middle.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            figures[key] = value
            continue
        median = statistics.median(r[key] for r in rounds)
        figures[key] = round(median) if isinstance(value, int) else round(median, 3)
    return figures


async def _measure(pg: EmbeddedPostgres) -> _Round:
    database = (await provision(pg.url, ["billing"]))["billing"]
    await asyncio.to_thread(upgrade, database.owner_url, SPEC.migrations)
    partners = [uuid.uuid4() for _ in range(PARTNERS)]
    started = time.perf_counter()
    loaded = await _load(plain_url(database.owner_url), partners)
    # The sweep starts with the load's dirty pages on disk, not with a checkpoint due.
    admin = await asyncpg.connect(pg.url, timeout=10)
    try:
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()
    load_seconds = time.perf_counter() - started
    db = Database(
        make_engine(normalise_database_url(database.app_url), application_name="bench"),
        make_engine(normalise_database_url(database.sweep_url), application_name="bench-sweep"),
    )
    try:
        sampler = RssSampler()
        # Asked before every slice: when each slice ended, for the sweep's pace over time.
        marks: list[float] = []

        def mark() -> bool:
            marks.append(time.perf_counter())
            return False

        sampler.start()
        sweep_started = time.perf_counter()
        summary = await run_dunning_sweep(db, as_of=AS_OF, batch_size=BATCH_SIZE, should_stop=mark)
        seconds = time.perf_counter() - sweep_started
        memory = sampler.stop()
        started = time.perf_counter()
        repeat = await run_dunning_sweep(db, as_of=AS_OF, batch_size=BATCH_SIZE)
        repeat_seconds = time.perf_counter() - started
    finally:
        await db.dispose()
    written = await _written(plain_url(database.owner_url))
    passed = seconds <= TARGET_SECONDS and summary.completed
    figures = {
        "open_invoices": loaded["open_invoices"],
        "accounts": ACCOUNTS,
        "partners": PARTNERS,
        "history_actions": loaded["history_actions"],
        "load_seconds": round(load_seconds, 1),
        "as_of": AS_OF.isoformat(),
        "storage_layout": LAYOUT,
        "batch_size": BATCH_SIZE,
        "sweep_seconds": round(seconds, 2),
        "target_seconds_max": TARGET_SECONDS,
        "target": "PASS" if passed else "FAIL",
        "invoices_examined": summary.invoices_examined,
        "invoices_per_s": round(summary.invoices_examined / seconds),
        "slices": summary.slices,
        "steps_executed": summary.total_steps,
        "steps_by_kind": {step.value: n for step, n in sorted(summary.steps_executed.items())},
        "accounts_made_delinquent": summary.accounts_made_delinquent,
        **written,
        "rss_start_mb": memory["start_mb"],
        "rss_peak_mb": memory["peak_mb"],
        "rss_end_mb": memory["end_mb"],
        "rss_growth_mb": round(memory["peak_mb"] - memory["start_mb"], 1),
        "rss_quarter_peaks_mb": memory["quarter_peaks_mb"],
        "rss_samples": memory["samples"],
        "repeat_sweep_seconds": round(repeat_seconds, 2),
        "repeat_steps_executed": repeat.total_steps,
    }
    # Every slice but the last walks a whole batch.
    walked = [float(BATCH_SIZE)] * summary.slices
    if walked:
        walked[-1] = float(summary.invoices_examined - BATCH_SIZE * (summary.slices - 1))
    return _Round(
        figures,
        summary.completed,
        rate_series(
            marks[1 : summary.slices + 1], sweep_started, sweep_started + seconds, weights=walked
        ),
        thinned(
            [
                [round(at - sweep_started, 3), round(mb, 1)]
                for at, mb in zip(sampler.times, sampler.samples, strict=True)
            ]
        ),
    )


def _report(figures: dict[str, Any]) -> None:
    sys.stdout.write(
        f"\ndunning sweep over {figures['open_invoices']:,} open invoices "
        f"({figures['invoices_examined']:,} past due): {figures['sweep_seconds']} s, "
        f"{figures['steps_executed']:,} steps {figures['steps_by_kind']}, "
        f"{figures['accounts_made_delinquent']} accounts made delinquent — target ≤ "
        f"{TARGET_SECONDS:.0f} s: {figures['target']}; RSS {figures['rss_start_mb']} → peak "
        f"{figures['rss_peak_mb']} MB (+{figures['rss_growth_mb']}; by quarter "
        f"{figures['rss_quarter_peaks_mb']}); repeat sweep "
        f"{figures['repeat_sweep_seconds']} s, {figures['repeat_steps_executed']} steps\n"
    )


class RssSampler:
    """Samples this process's resident set size on a thread, so it keeps sampling while the
    event loop is busy."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.samples.append(_rss_mb())
        self.times.append(time.perf_counter())

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self._sample()
        # The peak of each quarter of the sweep: flat memory plateaus after the first slices
        # instead of climbing with the invoices walked.
        quarter = max(len(self.samples) // 4, 1)
        return {
            "start_mb": round(self.samples[0], 1),
            "peak_mb": round(max(self.samples), 1),
            "end_mb": round(self.samples[-1], 1),
            "quarter_peaks_mb": [
                round(max(self.samples[i * quarter : (i + 1) * quarter] or [0.0]), 1)
                for i in range(4)
            ],
            "samples": len(self.samples),
        }


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


# --- data -------------------------------------------------------------------------------------

_LOAD = [
    "SELECT setseed(0.42)",
    # Partners and their policies; one run per partner for "yesterday's" sweep.
    """CREATE TEMP TABLE bench_partners AS
       SELECT ordinality - 1 AS n, p AS partner_id, uuidv7() AS run_id
       FROM unnest(CAST($1 AS uuid[])) WITH ORDINALITY AS p""",
    """CREATE TEMP TABLE bench_steps AS
       SELECT p.partner_id, s.step, s.day_offset, s.minimum_amount
       FROM bench_partners p
       JOIN (SELECT (e->>'partner')::int AS n, e->>'step' AS step,
                    (e->>'day_offset')::int AS day_offset, (e->>'minimum')::bigint AS minimum_amount
             FROM jsonb_array_elements(CAST($1 AS jsonb)) AS e) AS s ON s.n = p.n""",
    """INSERT INTO dunning_policies (id, partner_id, version, steps, minimum_amount, created_by)
       SELECT uuidv7(), p.partner_id, 1, CAST($1 AS jsonb), CAST($2 AS bigint), 'bench'
       FROM bench_partners p WHERE p.n = 0""",
    """INSERT INTO dunning_runs (id, partner_id, as_of, trigger, started_at, finished_at,
                                steps_executed)
       SELECT run_id, partner_id, CAST($1 AS date) - 1, 'schedule', now(), now(), 0
       FROM bench_partners""",
    # Accounts.
    """CREATE TEMP TABLE bench_accounts AS
       SELECT g.n, uuidv7() AS id, p.partner_id, gen_random_uuid() AS customer_id
       FROM generate_series(0, CAST($1 AS int) - 1) AS g(n)
       JOIN bench_partners p ON p.n = g.n % CAST($2 AS int)""",
    """INSERT INTO accounts (id, partner_id, customer_id, currency, country, prepayment_required,
                            prepayment_amount, billing_email, opened_by, over_limit, cleared_at)
       SELECT id, partner_id, customer_id, 'USD', 'US', false, 0,
              CASE WHEN n % 10 = 9 THEN NULL ELSE 'ap' || n || '@customer.example' END,
              'api', false, now()
       FROM bench_accounts""",
    # Invoices issued over 120 days on 15 to 45 days' terms, so a quarter are not due yet; some
    # partly paid, some disputed. Stored in the order they were issued, as real data accrues
    # (or shuffled, with BENCH_DUNNING_LAYOUT=shuffled: due dates unrelated to storage order).
    """INSERT INTO invoices (id, partner_id, account_id, customer_id, number, currency, status,
                            issued_on, terms_days, due_on, total, paid, credited, disputed_at,
                            dispute_reason, created_by)
       SELECT uuidv7(), s.partner_id, s.account_id, s.customer_id, 'INV-' || s.i, 'USD',
              CASE WHEN s.part THEN 'partially_paid' ELSE 'open' END,
              s.issued, s.terms, s.issued + s.terms, s.total,
              CASE WHEN s.part THEN s.total / 2 ELSE 0 END, 0,
              CASE WHEN s.disputed THEN now() END,
              CASE WHEN s.disputed THEN 'bench' END, 'bench'
       FROM (SELECT r.*, a.partner_id, a.id AS account_id, a.customer_id
             FROM (SELECT i, i % CAST($1 AS int) AS n,
                          CAST($2 AS date) - 120 + floor(random() * 120)::int AS issued,
                          (ARRAY[15, 30, 30, 45])[1 + floor(random() * 4)::int] AS terms,
                          1000 + floor(random() * 199000)::bigint AS total,
                          random() < 0.05 AS part, random() < 0.01 AS disputed,
                          random() AS shuffle
                   FROM generate_series(0, CAST($3 AS int) - 1) AS i) AS r
             JOIN bench_accounts a ON a.n = r.n
             ORDER BY {layout}) AS s""",
    # Reported payments: 1% of accounts wait for one to post (paused), 1% had one that is late.
    """INSERT INTO payments (id, partner_id, account_id, customer_id, amount, currency, method,
                            invoice_hints, status, reported_at, expected_by, allocated,
                            recorded_by)
       SELECT uuidv7(), partner_id, id, customer_id, 50000, 'USD', 'bank_transfer', '{}',
              'reported', now(),
              CASE WHEN n % 100 = 7 THEN CAST($1 AS date) + 3 ELSE CAST($1 AS date) - 2 END,
              0, 'bench'
       FROM bench_accounts WHERE n % 100 IN (7, 13)""",
    # History: every step due yesterday was taken, except for 2% of the invoices.
    """INSERT INTO dunning_actions (id, partner_id, invoice_id, account_id, run_id, step, as_of,
                                   days_overdue, balance)
       SELECT uuidv7(), i.partner_id, i.id, i.account_id, p.run_id, s.step,
              CAST($1 AS date) - 1, CAST($1 AS date) - 1 - i.due_on, i.total - i.paid
       FROM invoices i
       JOIN bench_partners p ON p.partner_id = i.partner_id
       JOIN bench_steps s ON s.partner_id = i.partner_id
       WHERE i.due_on < CAST($1 AS date) - 1
         AND s.day_offset <= CAST($1 AS date) - 1 - i.due_on
         AND i.total - i.paid >= s.minimum_amount
         AND i.disputed_at IS NULL
         AND abs(hashtext(i.id::text)) % 50 <> 0
       ORDER BY i.due_on, i.id, s.day_offset""",
    """UPDATE accounts a SET delinquent_since = d.since
       FROM (SELECT x.account_id, min(i.due_on) AS since
             FROM dunning_actions x JOIN invoices i ON i.id = x.invoice_id
             WHERE x.step = 'suspension_request' GROUP BY x.account_id) AS d
       WHERE a.id = d.account_id""",
]


async def _load(owner_url: str, partners: list[uuid.UUID]) -> dict[str, int]:
    steps = [
        {"partner": n, **step, "minimum": policy.minimum_amount}
        for n in range(PARTNERS)
        for policy in [CUSTOM_POLICY if n == 0 else DEFAULT_POLICY]
        for step in stored(policy)
    ]
    args: list[tuple[Any, ...]] = [
        (),
        (partners,),
        (json.dumps(steps),),
        (json.dumps(stored(CUSTOM_POLICY)), CUSTOM_POLICY.minimum_amount),
        (AS_OF,),
        (ACCOUNTS, PARTNERS),
        (),
        (ACCOUNTS, AS_OF, INVOICES),
        (AS_OF,),
        (AS_OF,),
        (),
    ]
    order = "r.shuffle" if LAYOUT == "shuffled" else "r.issued, r.i"
    tables = ("accounts", "invoices", "payments", "dunning_actions", "dunning_runs")
    conn = await asyncpg.connect(owner_url, timeout=10)
    try:
        await conn.execute("SET synchronous_commit = off")
        # An autovacuum's snapshot taken mid-load would keep the final VACUUM from marking
        # the loaded pages all-visible; in production those old rows long have been.
        for table in tables:
            await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        for statement, params in zip(_LOAD, args, strict=True):
            await conn.execute(statement.replace("{layout}", order), *params)
        for table in tables:
            await _vacuum(conn, table)
            await conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
        return {
            "open_invoices": int(await conn.fetchval("SELECT count(*) FROM invoices")),
            "history_actions": int(await conn.fetchval("SELECT count(*) FROM dunning_actions")),
        }
    finally:
        await conn.close()


async def _vacuum(conn: asyncpg.Connection, table: str) -> None:
    """VACUUM until the table's pages are all-visible (index-only scans need it), as they long
    are in production; a snapshot some other backend still holds can make a pass fall short."""
    for _ in range(20):
        await conn.execute(f"VACUUM (ANALYZE) {table}")
        pages, visible = await conn.fetchrow(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = $1", table
        )
        if visible >= 0.99 * pages:
            return
        await asyncio.sleep(0.5)


async def _written(owner_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(owner_url, timeout=10)
    try:
        events = dict(await conn.fetch("SELECT event_type, count(*) FROM outbox_events GROUP BY 1"))
        return {
            "events_written": sum(events.values()),
            "delinquent_events": events.get("billing.customer.delinquent", 0),
            "notices_written": int(await conn.fetchval("SELECT count(*) FROM dunning_notices")),
        }
    finally:
        await conn.close()
