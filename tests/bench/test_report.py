"""The benchmark report, written from small made-up results: no benchmark runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import machine
from bench.machine import git_commit, speed_probe
from bench.report import write_report
from bench.samples import joined, latency_sample, rate_series

PNG = b"\x89PNG\r\n\x1a\n"


def _enforcement(p99_rounds: list[float]) -> dict[str, Any]:
    """An alert-to-suspension result whose median p99 misses its 500 ms target."""
    rounds = [
        {"alerts": 100, "suspended": 100, "p50_ms": p99 / 4, "p99_ms": p99} for p99 in p99_rounds
    ]
    return {
        "description": "From an alert to the suspension.\n\nMore detail that is not shown.",
        "measured_at": "2026-11-20T10:00:00+00:00",
        "machine": {
            "commit": "0123456789abcdef0123456789abcdef01234567",
            "speed_probe_ms": {"before": 41.5, "after": 62.25},
        },
        "figures": {
            "p50_ms": sorted(r["p50_ms"] for r in rounds)[1],
            "p99_ms": sorted(p99_rounds)[1],
            "target_p99_ms_max": 500.0,
            "all_suspended": True,
            "result": "FAIL",
            "rounds": rounds,
        },
        "samples": {
            "latency_ms": {"alert → suspension": latency_sample([float(i) for i in range(1, 900)])},
            "throughput": {
                "unit": "suspensions/s",
                "x": "s since the round's first alert was due",
                "series": {"round 1": rate_series([i / 100 for i in range(100)], 0.0, 1.0)},
            },
        },
    }


def _usage() -> dict[str, Any]:
    """A usage-ingestion result that meets both its targets against its raw COPY baseline."""
    return {
        "description": "Usage ingestion throughput.",
        "figures": {
            "http_records_per_s": 60_000,
            "copy_records_per_s": 100_000,
            "ratio_to_copy": 0.6,
            "target_records_per_s": 50_000.0,
            "target_ratio": 0.5,
            "result": "PASS",
            "rounds": [
                {"http_rps": 59_000, "copy_rps": 98_000, "ratio_to_copy": 0.602},
                {"http_rps": 60_000, "copy_rps": 100_000, "ratio_to_copy": 0.6},
                {"http_rps": 61_000, "copy_rps": 103_000, "ratio_to_copy": 0.592},
            ],
        },
        "samples": {
            "throughput": {
                "unit": "records/s",
                "x": "s since the first round began",
                "series": {"HTTP": joined([[[0.5, 60_000.0], [1.5, 58_000.0]], [[3.5, 61_000.0]]])},
            }
        },
    }


def _gateway_before_rounds() -> dict[str, Any]:
    """A gateway result as written before benchmarks kept rounds: one run, no samples."""
    return {
        "description": "Gateway overhead.",
        "figures": {
            "direct_rps": 600,
            "gateway_rps": 450,
            "throughput_ratio": 0.75,
            "direct_p50_ms": 10.0,
            "gateway_p50_ms": 11.5,
            "added_p50_ms": 1.5,
            "target_throughput_ratio_min": 0.7,
            "target_added_p50_ms_max": 2.0,
            "throughput_target": "PASS",
            "added_p50_target": "PASS",
        },
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    root = tmp_path_factory.mktemp("bench")
    results = root / "results"
    results.mkdir()
    written = {
        "enforcement_suspend": _enforcement([450.0, 620.0, 700.0]),
        "usage_ingest": _usage(),
        "gateway_overhead": _gateway_before_rounds(),
        "a_new_benchmark": {"description": "New.", "figures": {"things_per_s": 5, "ok": "PASS"}},
    }
    for name, result in written.items():
        (results / f"{name}.json").write_text(json.dumps(result))
    (results / "broken.json").write_text("{not json")
    out = root / "out"
    out.mkdir()
    write_report(results, out, ran=["usage_ingest"])
    return out, json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


def _row(markdown: str, start: str) -> str:
    [line] = [line for line in markdown.splitlines() if line.startswith(start)]
    return line


def test_summary_gives_each_benchmark_its_verdict(report: tuple[Path, dict[str, Any], str]) -> None:
    _, _, markdown = report
    assert "| **FAIL** |" in _row(markdown, "| [enforcement_suspend]")
    assert "| **PASS** |" in _row(markdown, "| [usage_ingest]")
    assert "| **PASS** |" in _row(markdown, "| [gateway_overhead]")
    assert "| **PASS** |" in _row(markdown, "| [a_new_benchmark]")


def test_rows_judge_the_median_against_the_target(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, markdown = report
    [p99] = [
        row
        for row in data["benchmarks"]["enforcement_suspend"]["metrics"]
        if row["key"] == "p99_ms"
    ]
    assert (p99["median"], p99["verdict"], p99["rounds"]) == (620.0, "FAIL", 3)
    assert p99["per_round"] == [450.0, 620.0, 700.0]
    row = _row(markdown, "| alert → suspension p99 |")
    assert "≤ 500 ms" in row
    assert "620 ms" in row
    assert "450, 620, 700" in row
    assert row.endswith("| FAIL |")


def test_rows_show_the_ratio_to_the_baseline_of_the_same_run(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, markdown = report
    row = _row(markdown, "| HTTP ingestion |")
    assert "| 60,000 records/s | 100,000 records/s | 0.6 | 3 |" in row
    assert row.endswith("| PASS |")
    gateway = {row["key"]: row for row in data["benchmarks"]["gateway_overhead"]["metrics"]}
    # Judged on the ratio, and a ratio computed where the benchmark reports none.
    assert (gateway["gateway_rps"]["ratio"], gateway["gateway_rps"]["verdict"]) == (0.75, "PASS")
    assert gateway["gateway_p50_ms"]["ratio"] == 1.15


def test_results_from_before_rounds_count_as_one_round(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, _ = report
    assert {row["rounds"] for row in data["benchmarks"]["gateway_overhead"]["metrics"]} == {1}


def test_results_not_run_now_are_kept_with_their_date(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, markdown = report
    assert data["benchmarks"]["usage_ingest"]["status"] == "run"
    assert data["benchmarks"]["enforcement_suspend"]["status"] == "kept"
    assert "2026-11-20 10:00:00 UTC (earlier run)" in _row(markdown, "| [enforcement_suspend]")
    assert "at commit `0123456789ab`" in markdown


def test_a_benchmark_never_measured_is_listed_as_such(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, markdown = report
    assert data["benchmarks"]["dunning_sweep"]["status"] == "missing"
    assert "| **not measured** |" in _row(markdown, "| [dunning_sweep]")
    assert "broken" not in data["benchmarks"]


def test_each_benchmark_shows_the_machine_speed_probed_around_it(
    report: tuple[Path, dict[str, Any], str],
) -> None:
    _, _, markdown = report
    enforcement = markdown.split("## enforcement_suspend", 1)[1].split("\n## ", 1)[0]
    assert "lower is faster): 41.5 ms before, 62.25 ms after." in enforcement
    usage = markdown.split("## usage_ingest", 1)[1].split("\n## ", 1)[0]
    assert "speed probe" not in usage  # a result from before the probe says nothing of it


def test_the_speed_probe_is_the_fastest_of_its_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    # Five repeats: 50, 30, 40, 60 and 45 ms between their start and end readings.
    readings = iter([0.0, 0.05, 1.0, 1.03, 2.0, 2.04, 3.0, 3.06, 4.0, 4.045])
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(readings))
    assert speed_probe() == 30.0
    assert next(readings, None) is None


def test_plots_are_written_and_linked(report: tuple[Path, dict[str, Any], str]) -> None:
    out, data, markdown = report
    plots = {
        "enforcement_suspend-latency.png",
        "enforcement_suspend-throughput.png",
        "usage_ingest-throughput.png",
    }
    assert {path.name for path in (out / "report").iterdir()} == plots
    for plot in plots:
        assert (out / "report" / plot).read_bytes().startswith(PNG)
        assert f"](report/{plot})" in markdown
    assert data["benchmarks"]["gateway_overhead"]["plots"] == []


def test_latency_sample_keeps_the_extremes_within_its_limit() -> None:
    sample = latency_sample([float(i) for i in range(10_000, 0, -1)], limit=100)
    assert len(sample) == 100
    assert (sample[0], sample[-1]) == (1.0, 10_000.0)
    assert sample == sorted(sample)


def test_rate_series_counts_completions_per_second() -> None:
    points = rate_series([0.1, 0.2, 0.3, 1.5], 0.0, 2.0, points=2, weights=[1, 1, 1, 10])
    assert points == [[0.5, 3.0], [1.5, 10.0]]
    assert joined([points, points])[2] == [0.5, None]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"HEAD": "ref: refs/heads/main\n", "refs/heads/main": "a" * 40 + "\n"}, "a" * 40),
        (
            {"HEAD": "ref: refs/heads/main\n", "packed-refs": f"{'b' * 40} refs/heads/main\n"},
            "b" * 40,
        ),
        ({"HEAD": "c" * 40 + "\n"}, "c" * 40),
        ({}, None),
    ],
)
def test_git_commit_is_read_from_the_git_folder(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    for name, text in files.items():
        path = tmp_path / ".git" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert git_commit(tmp_path) == expected
