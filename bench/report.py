"""The benchmarks' report: ``bench/report.md`` and ``bench/report.json`` from the results in
``bench/results/*.json``, with plots in ``bench/report/``.

``make bench`` writes it after its runs; ``python -m bench.report`` writes it again from the
results there are. A benchmark not run this time keeps its last results, dated; one never run
is listed as not measured. Each figure is the benchmark's median over its rounds, shown with
its target, the baseline measured in the same run, and every round's value.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

from bench.machine import describe_machine
from bench.samples import LATENCY_POINTS

BENCH = Path(__file__).resolve().parent
PLOTS = "report"  # the plots' folder, beside report.md
PLOT_KINDS = {
    "latency": "latency distribution",
    "throughput": "throughput over time",
    "memory": "resident memory over time",
}

Figures = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """``op`` (``<=`` or ``>=``) ``value``, read from the figures at ``key`` when the benchmark
    records its target there; ``on_ratio`` judges the ratio to the baseline, not the value."""

    op: str
    value: float
    key: str | None = None
    on_ratio: bool = False

    def resolve(self, figures: Figures) -> float:
        found = _lookup(figures, self.key) if self.key else None
        return float(found) if isinstance(found, int | float) else self.value

    def met(self, figures: Figures, measured: float) -> bool:
        limit = self.resolve(figures)
        return measured <= limit if self.op == "<=" else measured >= limit


@dataclass(frozen=True)
class Metric:
    """One row of a benchmark's table: the figure at ``key`` (a dotted path reaches into a
    nested figure), its baseline measured in the same run and the ratio to it, if any."""

    label: str
    key: str
    unit: str = ""
    target: Target | None = None
    baseline: str | None = None
    ratio: str | None = None  # the benchmark's own ratio figure; else value / baseline
    per_round: str | None = None  # its key in each round's figures, when not ``key``


# A latency benchmark's target as a point on its distribution: (quantile, ms, label).
LatencyTarget = Callable[[Figures], tuple[float, float, str] | None]
# A throughput benchmark's target rate: (per second, label).
RateTarget = Callable[[Figures], tuple[float, str] | None]


@dataclass(frozen=True)
class Benchmark:
    title: str
    metrics: tuple[Metric, ...]
    # The benchmark's own PASS/FAIL figures (they may weigh more than the rows: errors, say).
    verdicts: tuple[str, ...] = ()
    latency_target: LatencyTarget | None = None
    rate_target: RateTarget | None = None


def _p99_target(figures: Figures) -> tuple[float, float, str] | None:
    limit = figures.get("target_p99_ms_max")
    return (0.99, float(limit), f"target: p99 ≤ {limit:g} ms") if limit is not None else None


def _gateway_p50_target(figures: Figures) -> tuple[float, float, str] | None:
    direct, added = figures.get("direct_p50_ms"), figures.get("target_added_p50_ms_max")
    if direct is None or added is None:
        return None
    return 0.5, direct + added, f"target: gateway p50 ≤ direct p50 + {added:g} ms"


def _usage_rate_target(figures: Figures) -> tuple[float, str] | None:
    rate = figures.get("target_records_per_s")
    return (float(rate), f"target ≥ {rate:,.0f} records/s") if rate is not None else None


BENCHMARKS: dict[str, Benchmark] = {
    "kernel_events": Benchmark(
        "Kernel event path: outbox relay and commit-to-handled latency",
        (
            Metric(
                "outbox relay drain",
                "relay_per_s",
                "events/s",
                baseline="raw_publish_per_s",
                ratio="relay_to_raw_ratio",
            ),
            Metric("raw JetStream publish (baseline)", "raw_publish_per_s", "events/s"),
            Metric("commit → handled p50", "commit_to_handled_p50_ms", "ms"),
            Metric("commit → handled p99", "commit_to_handled_p99_ms", "ms"),
        ),
    ),
    "gateway_overhead": Benchmark(
        "Gateway overhead",
        (
            Metric(
                "throughput through the gateway",
                "gateway_rps",
                "requests/s",
                Target(">=", 0.7, "target_throughput_ratio_min", on_ratio=True),
                baseline="direct_rps",
                ratio="throughput_ratio",
            ),
            Metric(
                "latency added at p50",
                "added_p50_ms",
                "ms",
                Target("<=", 2.0, "target_added_p50_ms_max"),
            ),
            Metric("p50 through the gateway", "gateway_p50_ms", "ms", baseline="direct_p50_ms"),
            Metric("p99 through the gateway", "gateway_p99_ms", "ms", baseline="direct_p99_ms"),
            Metric("latency added at p50, 1 worker", "unloaded_added_p50_ms", "ms"),
            Metric(
                "upstream CPU per request via the gateway",
                "gateway_upstream_cpu_ms_per_request",
                "ms",
                baseline="direct_upstream_cpu_ms_per_request",
            ),
            Metric("gateway CPU per request", "gateway_cpu_ms_per_request", "ms"),
            Metric("errors through the gateway (all rounds)", "gateway_errors"),
        ),
        verdicts=("throughput_target", "added_p50_target"),
        latency_target=_gateway_p50_target,
    ),
    "onboarding_decisions": Benchmark(
        "Onboarding decision latency",
        (
            Metric(
                "decision p99 at the target rate",
                "p99_ms",
                "ms",
                Target("<=", 35.0, "target_p99_ms_max"),
                baseline="reference.p99_ms",
            ),
            Metric(
                "decision p50 at the target rate",
                "p50_ms",
                "ms",
                baseline="reference.p50_ms",
            ),
            Metric("achieved rate (of the target rate offered)", "achieved_rps", "decisions/s"),
            Metric(
                "decision p99 at the reference rate",
                "reference.p99_ms",
                "ms",
                per_round="reference_p99_ms",
            ),
            Metric("errors (all rounds)", "errors"),
        ),
        verdicts=("p99_target",),
        latency_target=_p99_target,
    ),
    "dunning_sweep": Benchmark(
        "Dunning sweep over the open invoices",
        (
            Metric(
                "sweep wall time", "sweep_seconds", "s", Target("<=", 30.0, "target_seconds_max")
            ),
            Metric("invoices walked", "invoices_per_s", "invoices/s"),
            Metric("resident memory growth", "rss_growth_mb", "MB"),
            Metric("repeat sweep (nothing left to do)", "repeat_sweep_seconds", "s"),
            Metric("steps executed", "steps_executed"),
        ),
        verdicts=("target",),
    ),
    "usage_ingest": Benchmark(
        "Usage ingestion throughput",
        (
            Metric(
                "HTTP ingestion",
                "http_records_per_s",
                "records/s",
                Target(">=", 50_000.0, "target_records_per_s"),
                baseline="copy_records_per_s",
                ratio="ratio_to_copy",
                per_round="http_rps",
            ),
            Metric(
                "HTTP ingestion / raw COPY",
                "ratio_to_copy",
                "×",
                Target(">=", 0.5, "target_ratio"),
            ),
            Metric("raw COPY (baseline)", "copy_records_per_s", "records/s", per_round="copy_rps"),
            Metric(
                "bare INSERT by the service's role (no checks, no aggregates)",
                "insert_floor_records_per_s",
                "records/s",
                per_round="floor_rps",
            ),
            Metric(
                "HTTP ingestion / bare INSERT",
                "ratio_to_insert_floor",
                "×",
                per_round="ratio_to_floor",
            ),
        ),
        verdicts=("result",),
        rate_target=_usage_rate_target,
    ),
    "enforcement_suspend": Benchmark(
        "Alert to suspension",
        (
            Metric(
                "alert → suspension p99",
                "p99_ms",
                "ms",
                Target("<=", 500.0, "target_p99_ms_max"),
            ),
            Metric("alert → suspension p50", "p50_ms", "ms"),
            Metric("every alert suspended", "all_suspended"),
        ),
        verdicts=("result",),
        latency_target=_p99_target,
    ),
    "e2e_alert_suspend": Benchmark(
        "End to end: alert to the provider's suspend call, every service running",
        (
            Metric(
                "alert → provider suspend p99",
                "p99_ms",
                "ms",
                Target("<=", 500.0, "target_p99_ms_max"),
            ),
            Metric("alert → provider suspend p50", "p50_ms", "ms"),
            Metric("alerts offered", "rate_per_s", "alerts/s"),
            Metric("every alert suspended", "all_suspended"),
        ),
        verdicts=("result",),
        latency_target=_p99_target,
    ),
    "e2e_steady_traffic": Benchmark(
        "End to end: steady mixed partner traffic through the gateway",
        (
            Metric("requests answered", "achieved_rps", "requests/s", baseline="offered_rps"),
            Metric("latency p50", "p50_ms", "ms"),
            Metric("latency p99", "p99_ms", "ms"),
            Metric("errors", "errors", "", Target("<=", 0.0, "target_errors_max")),
            Metric(
                "resident memory growth, worst service (last vs first minute)",
                "rss_growth_pct_max",
                "%",
                Target("<=", 10.0, "target_rss_growth_pct_max"),
            ),
            Metric("expected 4xx answers", "expected_4xx"),
        ),
        verdicts=("errors_target", "memory_target"),
    ),
}


# --- reading -----------------------------------------------------------------------------------


def load_results(results: Path) -> dict[str, dict[str, Any]]:
    """Every benchmark's last result in ``results``, by name; one that cannot be read is left out."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(results.glob("*.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(result, dict) and isinstance(result.get("figures"), dict):
            # Results from before they were dated carry their file's time.
            result.setdefault(
                "measured_at",
                datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds"),
            )
            found[path.stem] = result
    return found


def _lookup(figures: Figures, key: str) -> Any:
    value: Any = figures
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _rounds(result: dict[str, Any]) -> list[Figures]:
    """Each round's figures: ``figures["rounds"]``, or (older results) ``runs`` as lists."""
    rounds = result["figures"].get("rounds")
    if isinstance(rounds, list) and all(isinstance(r, dict) for r in rounds):
        return rounds
    runs = result.get("runs")
    if isinstance(runs, dict) and runs and all(isinstance(v, list) for v in runs.values()):
        return [
            dict(zip(runs, values, strict=True)) for values in zip(*runs.values(), strict=False)
        ]
    return []


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- judging -----------------------------------------------------------------------------------


def _row(metric: Metric, figures: Figures, rounds: list[Figures]) -> dict[str, Any]:
    value = _lookup(figures, metric.key)
    baseline = _lookup(figures, metric.baseline) if metric.baseline else None
    ratio = _lookup(figures, metric.ratio) if metric.ratio else None
    if ratio is None and _is_number(value) and _is_number(baseline) and baseline:
        ratio = round(value / baseline, 3)
    per_round = [r[key] for r in rounds if (key := metric.per_round or metric.key) in r]
    verdict = None
    target = metric.target
    if target is not None:
        judged = ratio if target.on_ratio else value
        verdict = "PASS" if _is_number(judged) and target.met(figures, judged) else "FAIL"
    return {
        "label": metric.label,
        "key": metric.key,
        "unit": metric.unit,
        "target": None
        if target is None
        else {
            "op": target.op,
            "value": target.resolve(figures),
            "of": "ratio" if target.on_ratio else "value",
        },
        "median": value,
        "baseline": baseline,
        "baseline_key": metric.baseline,
        "ratio": ratio,
        # A figure with no value per round (a sum, a flag) stands for every round.
        "rounds": len(per_round) or (len(rounds) if "rounds" in figures else 1),
        "per_round": per_round,
        "verdict": verdict,
    }


def _verdict(spec: Benchmark, figures: Figures, rows: list[dict[str, Any]]) -> str:
    own = [figures[key] for key in spec.verdicts if figures.get(key) in ("PASS", "FAIL")]
    judged = own or [row["verdict"] for row in rows if row["verdict"]]
    if not judged:
        return "no target"
    return "FAIL" if "FAIL" in judged else "PASS"


def _generic(figures: Figures) -> Benchmark:
    """For a benchmark this report does not know: every number it reports, and its verdicts."""
    return Benchmark(
        "",
        tuple(Metric(key, key) for key, value in figures.items() if _is_number(value)),
        verdicts=tuple(key for key, value in figures.items() if value in ("PASS", "FAIL")),
    )


def summarise(
    results: dict[str, dict[str, Any]], ran: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Each benchmark's rows and verdict, known ones first in their order, then any other."""
    ran = set(ran)
    summary: dict[str, dict[str, Any]] = {}
    for name in [*BENCHMARKS, *sorted(set(results) - set(BENCHMARKS))]:
        result = results.get(name)
        spec = BENCHMARKS.get(name)
        if result is None:
            summary[name] = {
                "title": spec.title if spec else name,
                "status": "missing",
                "verdict": "not measured",
            }
            continue
        figures = result["figures"]
        spec = spec or _generic(figures)
        rounds = _rounds(result)
        rows = [_row(metric, figures, rounds) for metric in spec.metrics]
        machine = result.get("machine") or {}
        summary[name] = {
            "title": spec.title or name,
            "status": "run" if name in ran else "kept",
            "measured_at": result["measured_at"],
            "commit": machine.get("commit"),
            "machine": machine,
            "verdict": _verdict(spec, figures, rows),
            "rounds": sorted({row["rounds"] for row in rows}) or [1],
            "what": _first_paragraph(result.get("description") or ""),
            "metrics": rows,
            "round_figures": rounds,
            "figures": figures,
            "plots": [],
        }
    return summary


def _first_paragraph(text: str) -> str:
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split()).replace("``", "`")


# --- plots -------------------------------------------------------------------------------------

QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99, 0.999)


def _new_figure() -> Figure:
    figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_latency(
    title: str,
    series: dict[str, Sequence[float]],
    target: tuple[float, float, str] | None,
    path: Path,
) -> None:
    """The latency distribution of each series (a CDF on a tail-stretching scale), its p50
    and p99 marked, and the target."""
    figure = _new_figure()
    axes = figure.add_subplot()
    lowest = math.inf
    for name, values in series.items():
        ordered = sorted(v for v in values if v > 0)
        if not ordered:
            continue
        lowest = min(lowest, ordered[0])
        count = len(ordered)
        fractions = [(i + 0.5) / count for i in range(count)]
        (line,) = axes.plot(ordered, fractions, label=name)
        for quantile in (0.5, 0.99):
            index = min(count - 1, int(quantile * count))
            at = ordered[index]
            axes.plot([at], [fractions[index]], "o", color=line.get_color())
            # Above and left of a point on a rising curve there is room.
            axes.annotate(
                f"p{quantile * 100:g} {_number(at)}",
                (at, fractions[index]),
                textcoords="offset points",
                xytext=(-4, 4),
                ha="right",
                fontsize=8,
                color=line.get_color(),
            )
    if target is not None:
        quantile, limit, label = target
        axes.axvline(limit, color="red", linestyle="--", linewidth=1, label=label)
        axes.plot([limit], [quantile], "x", color="red")
    if lowest < math.inf:
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        # Within a decade or two there are few major ticks: label some minor ones too.
        highest = axes.get_xlim()[1]
        if math.log10(highest / lowest) < 2:
            axes.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
    axes.set_yscale("logit")
    axes.yaxis.set_major_locator(FixedLocator(list(QUANTILES)))
    axes.yaxis.set_major_formatter(FixedFormatter([f"p{q * 100:g}" for q in QUANTILES]))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.set_ylim(0.005, 0.9995)
    axes.set_xlabel("latency (ms, log scale)")
    axes.set_ylabel("percentile")
    axes.set_title(f"{title}: latency distribution", fontsize=11)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.savefig(path)


def _minor_label(value: float, _: object) -> str:
    """2, 3 and 5 times a power of ten: enough to read a value between two decades."""
    if value <= 0:
        return ""
    leading = value / 10 ** math.floor(math.log10(value) + 1e-9)
    return f"{value:g}" if round(leading, 6) in (2, 3, 5) else ""


def plot_timeline(
    title: str,
    samples: dict[str, Any],
    ylabel: str,
    path: Path,
    target: tuple[float, str] | None = None,
) -> None:
    """Each series over time; a ``None`` value is a gap between separate stretches."""
    figure = _new_figure()
    axes = figure.add_subplot()
    for name, points in samples.get("series", {}).items():
        xs = [float(p[0]) for p in points]
        ys = [math.nan if p[1] is None else float(p[1]) for p in points]
        # Dots too where there are few points: a single one would not show as a line.
        axes.plot(xs, ys, label=name, linewidth=1.2, marker="o" if len(xs) < 40 else "", ms=3)
    if target is not None:
        axes.axhline(target[0], color="red", linestyle="--", linewidth=1, label=target[1])
    axes.set_xlabel(samples.get("x", "s"))
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,g}"))
    axes.margins(y=0.15)  # room for the legend above the highest line
    axes.set_ylim(bottom=0)
    axes.set_title(title, fontsize=11)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path)


def write_plots(
    name: str, result: dict[str, Any], entry: dict[str, Any], folder: Path
) -> list[str]:
    """The plots its samples allow; their file names."""
    samples = result.get("samples") or {}
    spec = BENCHMARKS.get(name)
    figures = result["figures"]
    written: list[str] = []
    latency = samples.get("latency_ms")
    if isinstance(latency, dict) and any(latency.values()):
        mark = spec.latency_target(figures) if spec and spec.latency_target else None
        plot_latency(entry["title"], latency, mark, folder / f"{name}-latency.png")
        written.append(f"{name}-latency.png")
    throughput = samples.get("throughput")
    if isinstance(throughput, dict) and throughput.get("series"):
        rate = spec.rate_target(figures) if spec and spec.rate_target else None
        plot_timeline(
            f"{entry['title']}: throughput over time",
            throughput,
            throughput.get("unit", "per s"),
            folder / f"{name}-throughput.png",
            rate,
        )
        written.append(f"{name}-throughput.png")
    memory = samples.get("memory_mb")
    if isinstance(memory, dict) and memory.get("series"):
        plot_timeline(
            f"{entry['title']}: resident memory", memory, "MB", folder / f"{name}-memory.png"
        )
        written.append(f"{name}-memory.png")
    return written


# --- writing -----------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        size = abs(value)
        digits = 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 1 else 3
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _with_unit(value: Any, unit: str) -> str:
    text = _number(value)
    return f"{text} {unit}" if unit and text != "—" and unit != "×" else text


def _target_text(row: dict[str, Any]) -> str:
    target = row["target"]
    if target is None:
        return "—"
    op = "≤" if target["op"] == "<=" else "≥"
    if target["of"] == "ratio":
        return f"{op} {_number(target['value'])} × baseline"
    return f"{op} {_with_unit(target['value'], row['unit'])}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _measured(entry: dict[str, Any]) -> str:
    if entry["status"] == "missing":
        return "never"
    return f"{_when(entry['measured_at'])} ({'this run' if entry['status'] == 'run' else 'earlier run'})"


def _headline(entry: dict[str, Any]) -> str:
    """The figures a benchmark is judged on, each against its target."""
    texts = []
    for row in entry.get("metrics", []):
        if row["target"] is None:
            continue
        if row["target"]["of"] == "ratio":
            measured = f"{_number(row['ratio'])} × baseline"
        else:
            measured = _with_unit(row["median"], row["unit"])
        texts.append(f"{row['label']} {measured} (target {_target_text(row)})")
    return "; ".join(texts) or "—"


def _rounds_text(entry: dict[str, Any]) -> str:
    counts = entry.get("rounds")
    if not counts:
        return "—"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: the machine, a summary, then a section per benchmark."""
    machine = report["machine"]
    lines = [
        "# Benchmark report",
        "",
        f"Written {_when(report['generated_at'])} by `make bench` (or `python -m bench.report` "
        "from the last results). Every figure is the median over the rounds shown; ratios are "
        "to the baseline measured in the same run. Load generators, services, PostgreSQL and "
        "NATS share this machine's CPUs.",
        "",
        "## Machine",
        "",
        *_table(
            ["", ""],
            [
                [
                    "CPU",
                    f"{machine['cpu_model'] or 'unknown'} × {machine['cpus']}"
                    f" ({machine['cpus_usable']} usable)",
                ],
                ["memory", f"{_number(machine['memory_gb'])} GB"],
                ["Python", machine["python"]],
                ["platform", machine["platform"]],
                ["commit", f"`{machine['commit']}`" if machine["commit"] else "unknown"],
            ],
        ),
        "",
        "## Summary",
        "",
        *_table(
            ["benchmark", "result", "against its targets", "rounds", "measured"],
            [
                [
                    f"[{name}](#{name})",
                    f"**{entry['verdict']}**",
                    _headline(entry),
                    _rounds_text(entry),
                    _measured(entry),
                ]
                for name, entry in report["benchmarks"].items()
            ],
        ),
    ]
    for name, entry in report["benchmarks"].items():
        lines += ["", *_section(name, entry, machine["commit"])]
    return "\n".join(lines) + "\n"


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("+00:00", " UTC")


def _section(name: str, entry: dict[str, Any], commit_now: str | None) -> list[str]:
    lines = [f"## {name}", "", f"**{entry['title']}** — {entry['verdict']}", ""]
    if entry["status"] == "missing":
        return [*lines, f"Not measured yet: `python -m bench {name}`."]
    measured = f"Measured {_measured(entry)}"
    if entry.get("commit") and entry["commit"] != commit_now:
        measured += f", at commit `{entry['commit'][:12]}`"
    lines += [entry["what"], "", measured + ".", ""]
    probe = entry["machine"].get("speed_probe_ms")
    if probe:
        lines += [
            f"Machine speed probe (`bench.machine.speed_probe`, lower is faster): "
            f"{_number(probe['before'])} ms before, {_number(probe['after'])} ms after.",
            "",
        ]
    lines += _table(
        [
            "figure",
            "target",
            "median",
            "baseline (same run)",
            "ratio",
            "rounds",
            "each round",
            "result",
        ],
        [
            [
                row["label"],
                _target_text(row),
                _with_unit(row["median"], row["unit"]),
                _with_unit(row["baseline"], row["unit"]) if row["baseline_key"] else "—",
                _number(row["ratio"]) if row["ratio"] is not None else "—",
                str(row["rounds"]),
                ", ".join(_number(v) for v in row["per_round"]) or "—",
                row["verdict"] or "—",
            ]
            for row in entry["metrics"]
        ],
    )
    if entry["plots"]:
        lines += [
            "",
            f"The plots pool every round's samples (at most {LATENCY_POINTS:,} latencies a "
            "series, spread over the distribution); the table's percentiles are the medians of "
            "each round's own.",
        ]
    for plot in entry["plots"]:
        kind = plot.removesuffix(".png").rsplit("-", 1)[-1]
        lines += ["", f"![{name}: {PLOT_KINDS.get(kind, kind)}]({PLOTS}/{plot})"]
    rounds = entry["round_figures"]
    if rounds:
        keys = list(
            dict.fromkeys(
                key
                for r in rounds
                for key, value in r.items()
                if not isinstance(value, dict | list)
            )
        )
        lines += ["", "<details><summary>Every round's figures</summary>", ""]
        lines += _table(
            ["round", *keys],
            [[str(n), *(_number(r.get(key)) for key in keys)] for n, r in enumerate(rounds, 1)],
        )
        lines += ["", "</details>"]
    lines += ["", "<details><summary>All figures</summary>", ""]
    lines += _table(
        ["figure", "value"],
        [
            [
                key,
                json.dumps(value, ensure_ascii=False)
                if isinstance(value, dict | list)
                else _number(value),
            ]
            for key, value in entry["figures"].items()
            if key != "rounds"
        ],
    )
    return [*lines, "", "</details>"]


def write_report(
    results: Path = BENCH / "results", out: Path = BENCH, ran: Iterable[str] = ()
) -> dict[str, Any]:
    """Write ``report.md``, ``report.json`` and the plots into ``out``; the report."""
    found = load_results(results)
    summary = summarise(found, ran)
    folder = out / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    for name, entry in summary.items():
        if name in found:
            entry["plots"] = write_plots(name, found[name], entry, folder)
    machine = describe_machine()
    report = {"generated_at": machine["date"], "machine": machine, "benchmarks": summary}
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(render_markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--out", type=Path, default=BENCH)
    args = parser.parse_args(argv)
    write_report(args.results, args.out)
    sys.stdout.write(f"wrote {args.out / 'report.md'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
