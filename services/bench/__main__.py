"""Benchmarks of the pipeline on this machine, each next to bare Kafka doing the same I/O.

1. bare Kafka: produce N raw messages (acks=all), then consume them (see `bare.py`).
2. intake throughput: N raw events already on the topic; one intake instance, then two in
   one consumer group, drain them (consume, validate, de-duplicate, store, produce).
3. intake latency at a fixed rate: send time → the registered event's broker timestamp
   (2 and 3: see `intake.py`).
4. SLA timer: breach lag with a million open timers and 1,000 deadlines a second falling
   due, worker memory per million open timers, recovery after kill -9 (see `sla.py`).
5. The whole pipeline: every worker running, a flood of new complaints, the rate at which
   they are fully processed, against bare Kafka on the same messages (see `pipeline.py`).
6. Fixed offered loads: latency p50/p95/p99 per stage and raw → routed at 100, 1,000 and
   5,000 new complaints a second, and whether each load is sustained (see `load.py`).
7. Routing with the trained classifier: CPU per classification and per decision, model and
   keywords, and one routing worker's rate on complaints naming no category (`routing.py`).
8. Early warning: the detector's cost per complaint over weeks of seasonal traffic, in
   process (`--only early_warning`; see `early_warning.py`).
9. A flood: a million complaints queued while the workers are down, then drained, with SLA
   deadlines falling due during the drain (see `flood.py`).

Bare Kafka is measured twice on the same messages and partitions: Kafka's own performance
tools (`kafka_tools.py`) and kafka-python. Results are printed as a table and written to
`bench-results/<date>.json` with a markdown summary and charts beside it.

Ctrl-C (or SIGTERM) stops every process the run started — the stage's workers, the broker
and the database — says so, and exits 130 (143); see `processes.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from schemas.registry import RAW
from services.bench.bare import bare_kafka, bare_librdkafka, console
from services.bench.chart import latency_svg
from services.bench.early_warning import run_detection
from services.bench.flood import run_flood
from services.bench.intake import feed_events, intake_latency, intake_throughput
from services.bench.kafka_tools import kafka_tools
from services.bench.load import offered_loads
from services.bench.pipeline import keep_logs, new_complaints, run_pipeline
from services.bench.processes import Interrupted, interruptible
from services.bench.report import cpu_chart, flood_chart, latency_chart, markdown, throughput_chart
from services.bench.routing import classification_cost, routing_throughput
from services.bench.sla import run_sla
from services.bench.stack import bench_stack, fresh
from services.bench.table import figures
from services.kernel.settings import Settings

STAGES = ("kafka", "intake", "pipeline", "loads", "routing", "early_warning", "sla", "flood")
"""What a run can measure (`--only`, `--skip`)."""
QUICK = dict(
    events=10_000,
    pipeline_complaints=500,
    loads="100,1000,5000",
    load_seconds=3.0,
    load_drain=15.0,
    flood_events=1_000,
    flood_deadlines_per_s=50.0,
    flood_lead=10.0,
    flood_window=10.0,
    routing_complaints=500,
    ew_weeks=1,
)
"""`--quick`: every stage but the intake runs and the million timers, small."""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="make bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: small sizes, no intake runs and no million timers",
    )
    p.add_argument("--only", default="", help=f"comma-separated stages to run: {', '.join(STAGES)}")
    p.add_argument("--skip", default="", help="comma-separated stages to leave out")
    p.add_argument("--only-sla", action="store_true", help="same as --only sla")
    p.add_argument("--skip-sla", action="store_true", help="same as --skip sla")
    p.add_argument("--only-pipeline", action="store_true", help="same as --only pipeline")
    p.add_argument("--only-routing", action="store_true", help="same as --only routing")
    p.add_argument("--only-early-warning", action="store_true", help="same as --only early_warning")
    p.add_argument("--ew-weeks", type=int, default=4, help="weeks of traffic for early warning")
    p.add_argument("--ew-per-day", type=float, default=2000.0, help="complaints a day")
    p.add_argument("--skip-intake", action="store_true", help="same as --skip intake")
    p.add_argument("--events", type=int, default=100_000, help="events for throughput runs")
    p.add_argument(
        "--intake-instances",
        default="1,2",
        help="intake throughput runs: comma-separated numbers of instances in one group",
    )
    p.add_argument("--rate", type=float, default=1000.0, help="events/s for the intake latency run")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the intake latency run")
    p.add_argument("--out", default="bench-results", help="directory for JSON, markdown, charts")
    p.add_argument(
        "--pipeline-complaints",
        type=int,
        default=20_000,
        help="new complaints flooded through every running worker (0 skips the stage)",
    )
    p.add_argument(
        "--routing-complaints",
        type=int,
        default=10_000,
        help="complaints naming no category for the routing stage's worker (model, keywords)",
    )
    loads = p.add_argument_group("fixed offered loads")
    loads.add_argument(
        "--loads", default="100,1000,5000", help="offered new complaints per second, in turn"
    )
    loads.add_argument("--load-seconds", type=float, default=10.0, help="length of each load")
    loads.add_argument(
        "--load-drain",
        type=float,
        default=60.0,
        help="seconds after the last send a load's complaints may take to get through",
    )
    flood = p.add_argument_group("flood")
    flood.add_argument(
        "--flood-events",
        type=int,
        default=1_000_000,
        help="new complaints queued while the workers are down, then drained",
    )
    flood.add_argument(
        "--flood-deadlines-per-s",
        type=float,
        default=100.0,
        help="SLA deadlines planted to fall due per second during the drain",
    )
    flood.add_argument(
        "--flood-lead",
        type=float,
        default=30.0,
        help="seconds from starting the workers to the first of those deadlines",
    )
    flood.add_argument(
        "--flood-window", type=float, default=300.0, help="seconds over which they fall due"
    )
    flood.add_argument(
        "--flood-timeout",
        type=float,
        default=3600.0,
        help="give up following the drain after this many seconds (reported as not drained)",
    )
    sla = p.add_argument_group("SLA timer stage")
    sla.add_argument(
        "--sla-timers", type=int, default=1_000_000, help="open timers in the database"
    )
    sla.add_argument("--sla-rate", type=float, default=1000.0, help="deadlines falling due per s")
    sla.add_argument("--sla-seconds", type=float, default=30.0, help="length of the steady window")
    sla.add_argument(
        "--sla-down", type=float, default=5.0, help="seconds of deadlines with the worker killed"
    )
    sla.add_argument(
        "--sla-recover",
        type=float,
        default=30.0,
        help="seconds of deadlines from the restart of the worker on",
    )
    sla.add_argument(
        "--sla-lead",
        type=float,
        default=None,
        help="seconds from loading the due timers to the first deadline"
        " (default: 20 + 25 per million timers)",
    )
    args = p.parse_args(argv)
    given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv or sys.argv[1:])}
    if args.quick:
        for key, value in QUICK.items():
            if key not in given:  # what is said on the command line wins
                setattr(args, key, value)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    only |= {"sla"} if args.only_sla else set()
    only |= {"pipeline"} if args.only_pipeline else set()
    only |= {"routing"} if args.only_routing else set()
    only |= {"early_warning"} if args.only_early_warning else set()
    skip |= {"sla"} if args.skip_sla else set()
    skip |= {"intake"} if args.skip_intake else set()
    if args.quick and not only:
        skip |= {"intake", "sla"}
    if args.pipeline_complaints <= 0:
        skip.add("pipeline")
    unknown = (only | skip) - set(STAGES)
    if unknown:
        p.error(f"unknown stage(s) {', '.join(sorted(unknown))}: expected {', '.join(STAGES)}")
    args.stages = [st for st in STAGES if (not only or st in only) and st not in skip]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    home = Path("/tmp") / f"cf-bench-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    console.print(f"Stages: {', '.join(args.stages)}. Starting a local stack in {home} ...")
    result: dict[str, Any] = {
        "at": stamp,
        "cpus": os.cpu_count(),
        "machine": _machine(),
        "command": _command(argv),
        "stages": args.stages,
    }
    step = _Steps(args.stages)
    try:
        with interruptible():
            with bench_stack(home) as (base, beside):
                step.started = time.monotonic()
                _measure(args, base, beside, result, step, out=out, stamp=stamp)
            result["elapsed_s"] = time.monotonic() - step.started
            _write(result, out, stamp, args)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        stopped = "; ".join(getattr(exc, "__notes__", [])) or "nothing of its own was running"
        console.print(
            f"Interrupted by {signal.Signals(signum).name} at {step.at}: stopped {stopped}.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 128 + signum
    finally:
        if kept := keep_logs(home, out / f"{stamp}-logs"):
            console.print(f"The workers' logs in {kept}", markup=False, highlight=False)
        subprocess.run(["rm", "-rf", str(home)], check=False)
    return 0


class _Steps:
    """Says which step a run is at, with the time since the stages began; the last one said
    is where an interruption found it."""

    def __init__(self, stages: list[str]) -> None:
        self.stages = stages
        self.started = time.monotonic()
        self.at = "the start of the broker and the database"

    def __call__(self, stage: str, label: str) -> None:
        where = f"{self.stages.index(stage) + 1}/{len(self.stages)}"
        self.at = f"stage {where} ({stage})"
        console.print(
            f"[bold]{where}[/] {label}  [dim]({time.monotonic() - self.started:,.0f} s)[/]"
        )


def _measure(
    args: argparse.Namespace,
    base: Settings,
    beside: dict[str, int],
    result: dict[str, Any],
    step: _Steps,
    *,
    out: Path,
    stamp: str,
) -> None:
    """Each stage asked for in turn, on `base`'s broker and database, its figures in
    `result`. `beside`: the broker's and the database's process, when the run started them."""
    stages = args.stages
    instances = [int(n) for n in args.intake_instances.split(",") if n.strip()]
    if "kafka" in stages:
        events = new_complaints(args.events)
        step(
            "kafka",
            f"bare Kafka: Kafka's own tools and kafka-python, {len(events):,} raw events",
        )
        s = fresh(base)
        result["kafka_tools"] = kafka_tools(
            s.kafka_bootstrap_servers or "", s.topic(RAW.name), events
        )
        result["bare_kafka"] = bare_kafka(fresh(base), events)
        c_client = bare_librdkafka(fresh(base), events)
        if c_client is not None:
            result["bare_librdkafka"] = c_client
    if "intake" in stages:
        events = feed_events(args.events)
        thr: dict[str, Any] = {}
        for n in instances:
            step("intake", f"intake throughput, {len(events):,} events, {n} instance(s)")
            thr[f"{n}_instances"] = intake_throughput(fresh(base), events, n)
        result["intake"] = thr
        step("intake", f"intake latency at {args.rate:,.0f} events/s")
        result["latency"] = intake_latency(fresh(base), args.rate, args.seconds)
    if "pipeline" in stages:
        step(
            "pipeline",
            f"whole pipeline: {args.pipeline_complaints:,} new complaints flooded through"
            " every running worker (the maximum sustained rate)",
        )
        result["pipeline"] = run_pipeline(
            fresh(base),
            new_complaints(args.pipeline_complaints),
            console=console,
            beside=beside,
        )
    if "loads" in stages:
        rates = [float(r) for r in args.loads.split(",") if r.strip()]
        step(
            "loads",
            f"fixed offered loads {', '.join(f'{r:,.0f}' for r in rates)}/s,"
            f" {args.load_seconds:g} s each",
        )
        result["loads"] = offered_loads(
            fresh(base), rates, args.load_seconds, drain_s=args.load_drain, console=console
        )
    if "routing" in stages:
        step(
            "routing",
            "routing: classification cost, and one worker on"
            f" {args.routing_complaints:,} complaints naming no category",
        )
        routing: dict[str, Any] = {"cost": classification_cost()}
        for mode in ("model", "keywords"):
            routing[mode] = routing_throughput(
                fresh(base), args.routing_complaints, classifier=mode, console=console
            )
        result["routing"] = routing
    if "early_warning" in stages:
        step(
            "early_warning",
            f"early warning: the detector over {args.ew_weeks} weeks at"
            f" {args.ew_per_day:,.0f} complaints a day, in process",
        )
        result["early_warning"] = run_detection(args.ew_weeks, args.ew_per_day)
    if "sla" in stages:
        step(
            "sla",
            f"SLA timer: {args.sla_timers:,} open timers, {args.sla_rate:,.0f} deadlines/s,"
            " kill -9 and recovery",
        )
        result["sla"] = run_sla(
            fresh(base),
            timers=args.sla_timers,
            rate=args.sla_rate,
            seconds=args.sla_seconds,
            down=args.sla_down,
            recover=args.sla_recover,
            lead=args.sla_lead,
            logs=out,
            stamp=stamp,
            console=console,
        )
    if "flood" in stages:
        step(
            "flood",
            f"flood: {args.flood_events:,} complaints queued with the workers down, then"
            f" drained; {args.flood_deadlines_per_s:,.0f} deadlines/s falling due",
        )
        result["flood"] = run_flood(
            fresh(base),
            args.flood_events,
            deadlines_per_s=args.flood_deadlines_per_s,
            lead_s=args.flood_lead,
            window_s=args.flood_window,
            timeout=args.flood_timeout,
            console=console,
        )


def _command(argv: list[str] | None) -> str:
    args = argv if argv is not None else sys.argv[1:]
    return "make bench" + (f' ARGS="{" ".join(args)}"' if args else "")


def _machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        kb = int(fh.readline().split()[1])
        mem = f", {kb / 1048576:.0f} GiB RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.node()}: {model or platform.machine()}{mem}, {system}"


def _write(result: dict[str, Any], out: Path, stamp: str, args: argparse.Namespace) -> None:
    rows = figures(result, intake_rate=args.rate)
    console.print(rows.table())

    charts: list[str] = []
    for name, draw in (
        ("throughput", lambda p: throughput_chart(result, p)),
        ("cpu", lambda p: "pipeline" in result and cpu_chart(result["pipeline"], p)),
        ("latency", lambda p: "loads" in result and latency_chart(result["loads"], p)),
        ("flood", lambda p: "flood" in result and flood_chart(result["flood"], p)),
    ):
        path = out / f"{stamp}-{name}.png"
        if draw(path):
            charts.append(path.name)
    if "latency" in result:
        lat = result["latency"]
        (out / f"{stamp}-intake-latency.svg").write_text(
            latency_svg(
                lat.pop("latencies_ms"), title=f"raw → registered at {args.rate:,.0f} events/s"
            )
        )
        charts.append(f"{stamp}-intake-latency.svg")
    if "sla" in result:
        slar = result["sla"]
        (out / f"{stamp}-sla-breach-lag.svg").write_text(
            latency_svg(
                slar.pop("steady_late_by_ms"),
                title=f"SLA breach lag (late_by) with {slar['timers']:,} open timers,"
                f" {slar['rate']:,.0f} deadlines/s",
            )
        )
        charts.append(f"{stamp}-sla-breach-lag.svg")
    (out / f"{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    (out / f"{stamp}.md").write_text(markdown(result, rows.rows, charts))
    console.print(
        f"Results in {out}/{stamp}.json, the summary in {out}/{stamp}.md"
        f" (charts: {', '.join(charts) or 'none'})"
    )


if __name__ == "__main__":
    sys.exit(main())
