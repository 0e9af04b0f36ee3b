"""The machine and the code a benchmark ran on, read from ``/proc`` and ``.git`` (no commands
run, so it costs nothing and works where git is not installed), and how fast the machine is at
the moment (``speed_probe``)."""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def describe_machine(repo: Path = REPO) -> dict[str, Any]:
    """CPUs, memory, Python, platform, the time now (UTC) and the checked-out commit."""
    model, cpus = _cpuinfo()
    return {
        "cpu_model": model,
        "cpus": cpus,
        # What this process may run on, which a container or taskset can make fewer.
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(repo),
    }


PROBE_REPEATS = 5


def speed_probe() -> float:
    """Milliseconds this process takes for a fixed piece of Python work, the best of
    ``PROBE_REPEATS`` (lower is faster).

    A shared host runs the same code at different speeds from one day to the next: this one
    has run about twice as slowly as usual for whole sessions. Figures at a fixed rate or in records
    per second are comparable between runs only when their probes agree, so each benchmark's
    result keeps the probe taken just before it and just after it.
    """
    best = float("inf")
    for _ in range(PROBE_REPEATS):
        started = time.perf_counter()
        _fixed_work()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def _fixed_work() -> int:
    # What our services do most: build small dicts, format strings, read them back.
    total = 0
    for i in range(100_000):
        record = {"id": i, "name": f"record-{i}", "value": i * 3}
        total += len(record["name"]) + record["value"] % 7
    return total


def git_commit(repo: Path) -> str | None:
    """The commit ``HEAD`` points at, from the files under ``.git``; None when there is none."""
    git = repo / ".git"
    try:
        if git.is_file():  # a worktree: ".git" names the real folder
            git = (repo / git.read_text().removeprefix("gitdir:").strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head or None  # a detached HEAD holds the commit itself
        ref = head.removeprefix("ref:").strip()
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                commit, _, name = line.partition(" ")
                if name == ref:
                    return commit
    except OSError:
        pass
    return None


def _cpuinfo() -> tuple[str | None, int]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None, os.cpu_count() or 0
    models = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")
    ]
    processors = sum(1 for line in text.splitlines() if line.startswith("processor"))
    return (models[0] if models else platform.processor() or None), processors or (
        os.cpu_count() or 0
    )


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None
