"""The bench's charts (PNG) and its markdown summary, from the figures of one run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

STAGE_COLOURS = {
    "intake": "#4a7fb5",
    "routing": "#e07b39",
    "sla_timer": "#2a9d3f",
    "notification": "#8e44ad",
    "analytics": "#7f8c8d",
    "early_warning": "#b03060",
}
PERCENTILES = (("p50", "#2a9d3f"), ("p95", "#e0a030"), ("p99", "#c0392b"))
RATE_WINDOW_S = 6.0
"""A worker's rate is taken over at least this long: its commits come in steps."""


def throughput_chart(result: dict[str, Any], path: Path) -> bool:
    """Bars of messages (or complaints) per second: Kafka's tools, kafka-python, the pipeline."""
    bars: list[tuple[str, float]] = []
    tools, bare = result.get("kafka_tools") or {}, result.get("bare_kafka") or {}
    if tools:
        bars += [
            ("Kafka tools: produce", tools["produce_per_s"]),
            ("Kafka tools: consume", tools["consume_per_s"]),
        ]
    if bare:
        bars += [
            ("kafka-python: produce", bare["produce_per_s"]),
            ("kafka-python: consume", bare["consume_per_s"]),
        ]
    for t in (result.get("intake") or {}).values():
        n = t["instances"]
        bars.append((f"intake, {n} instance{'s' * (n > 1)}", t["events_per_s"]))
    if result.get("pipeline"):
        bars.append(("whole pipeline (complaints)", result["pipeline"]["complaints_per_s"]))
    if result.get("flood", {}).get("complaints_per_s"):
        bars.append(("flood drain (complaints)", result["flood"]["complaints_per_s"]))
    if not bars:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(bars) + 1.5))
    labels, values = zip(*bars, strict=True)
    ax.barh(labels, values, color=["#4a7fb5"] * 4 + ["#e07b39"] * (len(bars) - 4))
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("per second (log scale)")
    ax.set_title("Throughput on this machine: bare Kafka and the pipeline")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=8)
    _save(fig, path)
    return True


def latency_chart(loads: dict[str, Any], path: Path) -> bool:
    """p50 / p95 / p99 of each stage at each offered load (log scale)."""
    if not loads:
        return False
    loads = {rate: load for rate, load in loads.items() if load["complaints"]}
    if not loads:
        return False
    labels = list(next(iter(loads.values()))["latency"])
    fig, axes = plt.subplots(1, len(loads), figsize=(5 * len(loads), 4.5), sharey=True)
    axes = axes if len(loads) > 1 else [axes]
    for ax, (rate, load) in zip(axes, loads.items(), strict=True):
        for j, (pct, colour) in enumerate(PERCENTILES):
            values = [_finite(load["latency"][label][f"{pct}_ms"]) for label in labels]
            ax.bar(
                [i + (j - 1) * 0.27 for i in range(len(labels))],
                values,
                0.27,
                label=pct,
                color=colour,
            )
        ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=8)
        ax.set_yscale("log")
        verdict = "sustained" if load["sustained"] else "NOT sustained"
        ax.set_title(
            f"offered {float(rate):,.0f}/s ({load['sent_per_s']:,.0f} sent): {verdict}", fontsize=9
        )
        ax.axhline(50, color="#333", linestyle=":", linewidth=1)
    axes[0].set_ylabel("latency, ms (log scale; dotted: 50 ms)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Latency per stage at fixed offered loads")
    _save(fig, path)
    return True


def flood_chart(flood: dict[str, Any], path: Path) -> bool:
    """Each worker's rate over the drain, and the lag of each planted deadline."""
    samples = flood.get("rate_samples") or []
    if len(samples) < 2:
        return False
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, colour in STAGE_COLOURS.items():
        xs, ys = [], []
        for i, b in enumerate(samples):
            a = next((x for x in reversed(samples[:i]) if b["t"] - x["t"] >= RATE_WINDOW_S), None)
            if a is not None:
                xs.append(b["t"])
                ys.append(max(0.0, (b[name] - a[name]) / (b["t"] - a["t"])))
        top.plot(xs, ys, label=name, color=colour)
    if flood.get("workers_ready_s"):
        top.axvline(flood["workers_ready_s"], color="#333", linestyle=":", label="all ready")
    top.set_ylabel("records committed / s")
    top.set_title(f"Flood of {flood['events']:,} complaints: each worker's rate while draining")
    top.legend(fontsize=8)
    points = flood["deadlines"]["points"]
    if points:
        bottom.scatter(
            [p[0] for p in points], [max(p[1], 1e-3) for p in points], s=4, color="#c0392b"
        )
        bottom.set_yscale("log")
        bottom.axhline(1.0, color="#333", linestyle=":", linewidth=1)
    bottom.set_ylabel("breach lag, s (log; dotted: 1 s)")
    bottom.set_xlabel("seconds since the workers were started")
    bottom.set_title("SLA deadlines falling due during the drain: how late each breached")
    _save(fig, path)
    return True


def cpu_chart(pipeline: dict[str, Any], path: Path) -> bool:
    cpu = pipeline.get("cpu_us_per_complaint") or {}
    if not cpu:
        return False
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(cpu)
    ax.bar(names, [cpu[n] for n in names], color=[STAGE_COLOURS.get(n, "#999") for n in names])
    for i, n in enumerate(names):
        ax.text(i, cpu[n], f"{cpu[n]:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("CPU µs per complaint")
    ax.set_title(f"CPU per complaint per worker ({pipeline['complaints']:,} complaints)")
    _save(fig, path)
    return True


def _finite(v: float) -> float:
    return v if isinstance(v, int | float) and math.isfinite(v) and v > 0 else 0.0


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: dict[str, Any], rows: list[tuple[str, str]], charts: list[str]) -> str:
    """The summary a person reads: the printed table, then the charts."""
    lines = [
        f"# ComplaintFlow bench, {result['at']}",
        "",
        f"Machine: {result.get('machine', '')}; {result['cpus']} CPUs, broker and database on it.",
        f"Command: `{result.get('command', 'make bench')}`",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {m} | {v} |" if m else "| | |" for m, v in rows],
        "",
    ]
    lines += [f"![{Path(c).stem}]({c})" for c in charts]
    return "\n".join(lines) + "\n"
