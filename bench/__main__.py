"""``make bench``: run every benchmark (or those named), write ``bench/results/<name>.json``,
then the report over every benchmark's last results (``bench/report.md``, see ``bench.report``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench import (
    dunning_sweep,
    e2e_alert_suspend,
    e2e_steady_traffic,
    enforcement_suspend,
    gateway_overhead,
    kernel_events,
    onboarding_decisions,
    usage_ingest,
)
from bench.machine import describe_machine, speed_probe
from bench.report import write_report

BENCHMARKS = {
    "kernel_events": kernel_events.run,
    "gateway_overhead": gateway_overhead.run,
    "onboarding_decisions": onboarding_decisions.run,
    "dunning_sweep": dunning_sweep.run,
    "usage_ingest": usage_ingest.run,
    "enforcement_suspend": enforcement_suspend.run,
    "e2e_alert_suspend": e2e_alert_suspend.run,
    "e2e_steady_traffic": e2e_steady_traffic.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default all): {list(BENCHMARKS)}"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--report", type=Path, default=Path(__file__).parent, help="where report.md goes"
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    ran: list[str] = []
    try:
        for name in args.names or list(BENCHMARKS):
            before = speed_probe()
            result = asyncio.run(BENCHMARKS[name]())
            result["machine"] = describe_machine()
            result["machine"]["speed_probe_ms"] = {"before": before, "after": speed_probe()}
            result["measured_at"] = result["machine"]["date"]
            (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True))
            ran.append(name)
            sys.stdout.write(f"\n== {name} ==\n{json.dumps(result['figures'], indent=2)}\n")
    finally:
        # Also after a benchmark failed: the report then shows what the others measured.
        write_report(args.out, args.report, ran=ran)
        sys.stdout.write(f"\nreport: {args.report / 'report.md'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
