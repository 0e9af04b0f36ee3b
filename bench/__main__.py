"""``make bench``: run every benchmark, print a table, write ``bench/results/<name>.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from pathlib import Path

from bench import (
    dunning_sweep,
    enforcement_suspend,
    gateway_overhead,
    kernel_events,
    onboarding_decisions,
    usage_ingest,
)

BENCHMARKS = {
    "kernel_events": kernel_events.run,
    "gateway_overhead": gateway_overhead.run,
    "onboarding_decisions": onboarding_decisions.run,
    "dunning_sweep": dunning_sweep.run,
    "usage_ingest": usage_ingest.run,
    "enforcement_suspend": enforcement_suspend.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default all): {list(BENCHMARKS)}"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    for name in args.names or list(BENCHMARKS):
        result = asyncio.run(BENCHMARKS[name]())
        result["machine"] = machine
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True))
        sys.stdout.write(f"\n== {name} ==\n{json.dumps(result['figures'], indent=2)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
