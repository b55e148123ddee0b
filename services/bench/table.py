"""The bench's figures as rows: printed as a table, written into the markdown summary."""

from __future__ import annotations

import os
from typing import Any

from rich.table import Table


class Rows:
    """The figures as (measure, value) rows: printed as a table, written as markdown."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, measure: str, value: str) -> None:
        self.rows.append((measure, value))

    def add_section(self) -> None:
        self.rows.append(("", ""))

    def table(self) -> Table:
        table = Table(title="ComplaintFlow bench (this machine, broker on the same machine)")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for m, v in self.rows:
            if m or v:
                table.add_row(m, v)
            else:
                table.add_section()
        return table


def figures(result: dict[str, Any], *, intake_rate: float) -> Rows:
    """The rows of every stage the run measured."""
    rows = Rows()
    bare = _bare_rate(result)
    if "kafka_tools" in result:
        _kafka_rows(rows, result)
    if "intake" in result:
        _intake_rows(rows, result, intake_rate, bare)
    if "pipeline" in result:
        _pipeline_rows(rows, result["pipeline"], bare)
    if "loads" in result:
        _load_rows(rows, result["loads"])
    if "routing" in result:
        _routing_rows(rows, result["routing"])
    if "early_warning" in result:
        _early_warning_rows(rows, result["early_warning"])
    if "sla" in result:
        _sla_rows(rows, result["sla"])
    if "flood" in result:
        _flood_rows(rows, result["flood"])
    return rows


def _bare_rate(result: dict[str, Any]) -> float | None:
    """The bare-Kafka produce → consume rate of kafka-python: the slower of the two."""
    bare = result.get("bare_kafka")
    return min(bare["produce_per_s"], bare["consume_per_s"]) if bare else None


def _kafka_rows(rows: Rows, result: dict[str, Any]) -> None:
    tools, bare = result["kafka_tools"], result["bare_kafka"]
    rows.add_row(
        "bare Kafka, Kafka's own tools: produce (acks=all) / consume",
        f"{tools['produce_per_s']:,.0f} / {tools['consume_per_s']:,.0f} msg/s",
    )
    pl = tools["produce_latency_ms"]
    rows.add_row(
        "  produce latency p50 / p95 / p99 (Kafka's tool, flat out)",
        f"{pl['p50_ms']:,.0f} / {pl['p95_ms']:,.0f} / {pl['p99_ms']:,.0f} ms",
    )
    rows.add_row(
        "bare Kafka, kafka-python: produce (acks=all) / consume",
        f"{bare['produce_per_s']:,.0f} / {bare['consume_per_s']:,.0f} msg/s",
    )
    rows.add_row(
        "  kafka-python against Kafka's tools (produce / consume)",
        f"{bare['produce_per_s'] / tools['produce_per_s']:.0%}"
        f" / {bare['consume_per_s'] / tools['consume_per_s']:.0%}",
    )
    clients = [("kafka-python", bare)]
    if "bare_librdkafka" in result:
        c = result["bare_librdkafka"]
        rows.add_row(
            "bare Kafka, librdkafka (confluent-kafka): produce / consume",
            f"{c['produce_per_s']:,.0f} / {c['consume_per_s']:,.0f} msg/s",
        )
        clients.append(("librdkafka", c))
    if "produce_cpu_us" in bare:
        rows.add_row(
            "  client CPU per message, produce / consume",
            "; ".join(
                f"{name} {c['produce_cpu_us']:,.1f} / {c['consume_cpu_us']:,.1f} µs"
                for name, c in clients
            ),
        )


def _intake_rows(rows: Rows, result: dict[str, Any], rate: float, bare: float | None) -> None:
    rows.add_section()
    for t in result["intake"].values():
        ratio = f" ({t['events_per_s'] / bare:.0%} of bare)" if bare else ""
        rows.add_row(
            f"intake throughput, {_instances(t['instances'])}",
            f"{t['events_per_s']:,.0f} events/s{ratio}",
        )
        rows.add_row(
            "  CPU per instance / machine; RSS",
            f"{' + '.join(f'{c:.2f}' for c in t['instance_cores'])}"
            f" / {t['machine_busy_cores']:.2f} of {os.cpu_count()} cores;"
            f" {t['rss_mb']:,.0f} MiB",
        )
    lat = result["latency"]
    rows.add_row(
        f"raw → registered p50 / p99 @ {rate:,.0f}/s",
        f"{lat['p50_ms']:,.1f} / {lat['p99_ms']:,.1f} ms",
    )


def _load_rows(rows: Rows, loads: dict[str, Any]) -> None:
    rows.add_section()
    for rate, load in loads.items():
        verdict = "sustained" if load["sustained"] else f"NOT sustainable: {load['why_not']}"
        rows.add_row(
            f"offered {float(rate):,.0f} complaints/s ({load['complaints']:,})",
            f"sent {load['sent_per_s']:,.0f}/s; {verdict}",
        )
        for label, lat in load["latency"].items():
            if not lat["n"]:
                continue
            rows.add_row(
                f"  {label} p50 / p95 / p99",
                f"{lat['p50_ms']:,.0f} / {lat['p95_ms']:,.0f} / {lat['p99_ms']:,.0f} ms",
            )


def _flood_rows(rows: Rows, f: dict[str, Any]) -> None:
    rows.add_section()
    rows.add_row(
        f"flood: {f['events']:,} complaints queued (workers down)",
        f"{f['queued_per_s']:,.0f} events/s sent",
    )
    if f["drained"]:
        rows.add_row(
            "  drained: workers started → all through every stage",
            f"{f['drain_s']:,.1f} s ({f['complaints_per_s']:,.0f} complaints/s;"
            f" all workers ready after {f['workers_ready_s'] or 0:,.1f} s,"
            f" the SLA timer after {f['sla_timer_ready_s'] or 0:,.1f} s)",
        )
    else:
        through = min(f["through_each_stage"].values())
        left = f["events"] - through
        eta = left / f["complaints_per_s"] if f["complaints_per_s"] else float("inf")
        rows.add_row(
            "  NOT drained when the bench stopped following it",
            f"{through:,} of {f['events']:,} through every stage at {f['complaints_per_s']:,.0f}/s;"
            f" about {eta:,.0f} s more at that rate",
        )
    rows.add_row(
        "  CPU per complaint while draining (µs)",
        ", ".join(f"{k} {v:,.0f}" for k, v in f["cpu_us_per_complaint"].items()),
    )
    d = f["deadlines"]
    rows.add_row(
        "  SLA deadlines planted to fall due",
        f"{d['per_s']:,.0f}/s for {d['window_s']:g} s from {d['lead_s']:g} s after the start",
    )
    for phase, p in d["phases"].items():
        if not p["deadlines"]:
            continue
        rows.add_row(
            f"    falling due {phase}: breached; lag p50 / p99 / max; later than 1 s",
            f"{p['breached']:,} of {p['deadlines']:,}; {p['p50_ms']:,.0f} / {p['p99_ms']:,.0f}"
            f" / {p['max_ms']:,.0f} ms; {p['over_1s']:,}",
        )
    own = f["flood_breaches"]
    if own["breached"]:
        rows.add_row(
            "  the flood's own deadlines passed in the backlog: breached, lag p50 / max",
            f"{own['breached']:,},"
            f" {own['lag_p50_ms'] / 1000:,.1f} / {own['lag_max_ms'] / 1000:,.1f} s",
        )


def _pipeline_rows(rows: Rows, r: dict[str, Any], bare: float | None) -> None:
    rows.add_section()
    ratio = f" ({r['complaints_per_s'] / bare:.1%} of bare Kafka's {bare:,.0f}/s)" if bare else ""
    rows.add_row(
        f"whole pipeline, {r['complaints']:,} new complaints (maximum sustained rate)",
        f"{r['complaints_per_s']:,.0f} complaints/s{ratio}",
    )
    rows.add_row("  client send rate", f"{r['client_send_per_s']:,.0f} events/s")
    rows.add_row(
        "  through each stage after (s)",
        ", ".join(f"{k} {v:.1f}" for k, v in r["stage_done_s"].items())
        + (
            f"; early-warning detector caught up {r['early_warning_done_s']:.1f}"
            if "early_warning_done_s" in r
            else ""
        ),
    )
    rows.add_row(
        "  CPU per complaint (µs)",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["cpu_us_per_complaint"].items()),
    )
    if r.get("cpu_us_per_complaint_beside"):
        rows.add_row(
            "  CPU per complaint beside them (µs)",
            ", ".join(f"{k} {v:,.0f}" for k, v in r["cpu_us_per_complaint_beside"].items()),
        )
    if r.get("database_cpu_us_per_complaint_by_client"):
        rows.add_row(
            "  database CPU per complaint by client (µs)",
            ", ".join(
                f"{k} {v:,.0f}" for k, v in r["database_cpu_us_per_complaint_by_client"].items()
            ),
        )
    rows.add_row(
        "  peak RSS (MiB); machine busy",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_peak_mb"].items())
        + f"; {r['machine_busy_cores']:.2f} of {os.cpu_count()} cores",
    )


def _sla_rows(table: Rows, r: dict[str, Any]) -> None:
    n, rate = r["timers"], r["rate"]
    st, rss, rec, down = r["steady"], r["rss"], r["recovery"], r["down"]
    at = f"{n / 1e6:g}M timers, {rate:,.0f}/s"
    table.add_section()
    table.add_row(f"SLA timers ({at}): COPY", f"{r['load']['far_rows_per_s']:,.0f} rows/s")
    table.add_row("SLA worker start → ready (heap loaded)", f"{r['startup']['ready_s']:,.1f} s")
    wu = r["warmup"]["record_ts"]
    table.add_row(
        "SLA breach lag, first second after start (record ts) p50 / max",
        f"{wu['p50_ms']:,.1f} / {wu['max_ms']:,.1f} ms",
    )
    table.add_row(
        f"SLA breaches in steady window ({r['windows_s']['steady']:g} s)",
        f"{st['breaches']:,} of {st['expected']:,}",
    )
    for label, key in (
        ("late_by", "late_by"),
        ("record ts", "record_ts"),
        ("received", "received"),
    ):
        s = st[key]
        table.add_row(
            f"SLA breach lag ({label}) p50 / p99 / max",
            f"{s['p50_ms']:,.1f} / {s['p99_ms']:,.1f} / {s['max_ms']:,.1f} ms",
        )
    table.add_row("SLA breaches later than 1 s (record ts)", f"{st['over_1s']:,}")
    table.add_row(
        "SLA worker CPU in steady window (whole machine)",
        f"{r['cpu'].get('steady_cores', 0):,.2f} ({r['cpu'].get('machine_busy_cores', 0):,.2f})"
        f" of {os.cpu_count()} cores",
    )
    table.add_row(
        "SLA worker RSS: no timers / loaded / end of steady / peak",
        f"{rss.get('baseline_mb', 0):,.0f} / {rss.get('loaded_mb', 0):,.0f}"
        f" / {rss.get('steady_end_mb', 0):,.0f} / {rss.get('steady_end_hwm_mb', 0):,.0f} MiB",
    )
    table.add_row(
        "SLA worker RSS per million timers (total / peak / above no-timer base)",
        f"{rss['mb_per_million']:,.0f} / {rss['hwm_mb_per_million']:,.0f}"
        f" / {rss['timers_mb_per_million']:,.0f} MiB",
    )
    table.add_row("kill -9 → restart (down)", f"{rec['killed_to_restart_s']:,.1f} s")
    table.add_row("restart → ready", f"{rec['ready_s']:,.1f} s")
    table.add_row("restart → first breach", f"{rec['first_breach_s']:,.1f} s")
    table.add_row(
        f"restart → backlog cleared ({rec['backlog_breaches']:,} due while down or starting)",
        f"{rec['backlog_cleared_s']:,.1f} s",
    )
    table.add_row(
        "down-window breaches: unique / expected",
        f"{down['unique']:,} / {down['expected']:,}"
        f" (missing {down['missing']}, duplicates {down['duplicate_events']})",
    )
    dl = down["lag"]["record_ts"]
    table.add_row(
        "down-window lateness p50 / max",
        f"{dl['p50_ms'] / 1000:,.1f} / {dl['max_ms'] / 1000:,.1f} s",
    )
    al = rec["lag_after_backlog"]["record_ts"]
    table.add_row(
        "breach lag once backlog cleared p50 / p99", f"{al['p50_ms']:,.1f} / {al['p99_ms']:,.1f} ms"
    )
    a = r["all"]
    table.add_row(
        "all planned deadlines: exactly one breach",
        f"{'yes' if a['exactly_once'] else 'NO'} ({a['unique']:,} / {a['expected']:,},"
        f" missing {a['missing']}, duplicates {a['duplicate_events']},"
        f" unexpected {r['unexpected_breaches']})",
    )


def _instances(n: int) -> str:
    return f"{n} instance{'s' if n > 1 else ''}"


def _routing_rows(rows: Rows, r: dict[str, Any]) -> None:
    c = r["cost"]
    rows.add_section()
    rows.add_row(
        "classify one complaint, model / keywords (CPU)",
        f"{c['classify_model_us']:,.0f} / {c['classify_keywords_us']:,.0f} µs",
    )
    rows.add_row(
        "whole routing decision, model / keywords (CPU)",
        f"{c['decide_model_us']:,.0f} / {c['decide_keywords_us']:,.0f} µs",
    )
    for mode in ("model", "keywords"):
        t = r[mode]
        rows.add_row(
            f"routing worker, {t['complaints']:,} without a category ({mode})",
            f"{t['complaints_per_s']:,.0f} complaints/s, {t['cpu_us_per_complaint']:,.0f} µs CPU"
            f" each, RSS {t['rss_peak_mb']:,.0f} MiB",
        )


def _early_warning_rows(rows: Rows, r: dict[str, Any]) -> None:
    rows.add_section()
    rows.add_row(
        "early warning: complaints (event time)", f"{r['complaints']:,} over {r['weeks']} weeks"
    )
    rows.add_row("  detection per complaint, mean", f"{r['mean_us']:,.0f} µs")
    rows.add_row("  p50 / p99", f"{r['p50_us']:,.0f} / {r['p99_us']:,.0f} µs")
    rows.add_row("  slowest (a window's end: themes)", f"{r['max_ms']:,.1f} ms")
    rows.add_row("  complaints per second", f"{r['per_s']:,.0f}")
    rows.add_row("  alerts raised; state keys at the end", f"{r['alerts']}; {r['state_keys']:,}")
