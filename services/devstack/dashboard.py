"""The live terminal view of `make run`: flow per stage, open complaints, SLA, notifications."""

from __future__ import annotations

import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from services.devstack.mailcatcher import kept
from services.devstack.stack import StackState

if TYPE_CHECKING:
    from services.devstack.supervise import Supervisor

Sample = dict[str, float]


def scrape(url: str, timeout: float = 1.0) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a worker's /metrics, keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as resp:
        text = resp.read().decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **match: str
) -> float:
    return sum(
        v
        for (n, labels), v in samples.items()
        if n == name and all(dict(labels).get(k) == val for k, val in match.items())
    )


def degraded(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[str]:
    """The kinds of configuration problem a worker reports now (its `config_problems`)."""
    return sorted(
        dict(labels).get("kind", "?")
        for (n, labels), v in samples.items()
        if n == "complaintflow_config_problems" and v > 0
    )


N = "complaintflow_notifications_total"


class Dashboard:
    """Scrapes the workers once a second and renders rates and totals."""

    def __init__(self, state: StackState, supervisor: Supervisor | None = None) -> None:
        self.state = state
        self.supervisor = supervisor
        self.prev: dict[str, tuple[float, float]] = {}
        self.started = time.monotonic()

    def render(self) -> Group:
        per_worker: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for w in self.state.workers:
            try:
                per_worker[w.name] = scrape(w.metrics_url or "")
            except OSError:
                per_worker[w.name] = {}
        now = time.monotonic()
        flow = Table(title="Flow per stage", expand=True)
        columns = ("worker", "status", "restarts", "events", "events/s", "lag", "dead letters")
        for col in (*columns, "p50→p99"):
            flow.add_column(col, justify="right" if col not in ("worker", "status") else "left")
        for w in self.state.workers:
            s = per_worker.get(w.name, {})
            processed = total(s, "complaintflow_events_processed_total")
            rate = 0.0
            if s:  # an unanswered scrape is no reading, not a drop to zero
                last_t, last_v = self.prev.get(w.name, (self.started, 0.0))
                # a restarted worker counts from zero again
                delta = processed - last_v if processed >= last_v else processed
                rate = delta / max(1e-6, now - last_t)
                self.prev[w.name] = (now, processed)
            down = self.supervisor.describe(w.name) if self.supervisor is not None else None
            if down is not None:
                status = f"[red]{down}"
            elif s and degraded(s):
                status = f"[yellow]up, degraded ({', '.join(degraded(s))})"
            else:
                status = (
                    "[green]up" if s else ("[red]down" if not w.alive() else "[yellow]starting")
                )
            flow.add_row(
                w.name,
                status,
                f"[red]{w.restarts}" if w.restarts else "0",
                f"{processed:,.0f}",
                f"{rate:,.1f}",
                f"{total(s, 'complaintflow_consumer_lag'):,.0f}",
                f"{total(s, 'complaintflow_dead_letters_total'):,.0f}",
                _quantiles(s, w.name),
            )
        merged: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        for s in per_worker.values():
            for k, v in s.items():
                merged[k] += v
        kpis = Table.grid(padding=(0, 3))
        figures = [
            ("received", total(merged, "complaintflow_complaints_received_total")),
            ("rejected", total(merged, "complaintflow_complaints_rejected_total")),
            ("routed", total(merged, "complaintflow_complaints_routed_total")),
            ("open", total(merged, "complaintflow_open_complaints")),
            ("SLA warnings", total(merged, "complaintflow_sla_warnings_total")),
            ("SLA breaches", total(merged, "complaintflow_sla_breaches_total")),
            ("escalations", total(merged, "complaintflow_sla_escalations_total")),
            ("timers active", total(merged, "complaintflow_sla_timers_active")),
            ("notices sent", total(merged, N, outcome="sent")),
            ("not delivered", sum(total(merged, N, outcome=o) for o in ("dead", "unknown"))),
            ("mail + chat caught", len(kept(Path(self.state.home) / "mail"))),
            ("early warnings", total(merged, "complaintflow_emerging_issues_total")),
        ]
        for _ in figures:
            kpis.add_column(justify="center")
        kpis.add_row(*[f"[bold]{label}" for label, _ in figures])
        kpis.add_row(*[f"{value:,.0f}" for _, value in figures])
        open_table = Table(title="Open complaints by department and priority", expand=True)
        open_table.add_column("department")
        for p in ("P1", "P2", "P3", "P4"):
            open_table.add_column(p, justify="right")
        by_dept: dict[str, dict[str, float]] = defaultdict(dict)
        for (name, labels), v in merged.items():
            if name == "complaintflow_open_complaints":
                d = dict(labels)
                by_dept[d.get("department", "?")][d.get("priority", "?")] = v
        for dept in sorted(by_dept):
            open_table.add_row(
                dept, *[f"{by_dept[dept].get(p, 0):,.0f}" for p in ("P1", "P2", "P3", "P4")]
            )
        http = "".join(f"   HTTP {w.name} {w.http_url}" for w in self.state.workers if w.http_url)
        footer = (
            f"Kafka {self.state.bootstrap_servers}   PostgreSQL {self.state.database_url}"
            + http
            + f"   up {now - self.started:,.0f}s   Ctrl-C stops everything"
        )
        return Group(Panel(kpis, title="ComplaintFlow"), flow, open_table, footer)


def _quantiles(s: dict[tuple[str, tuple[tuple[str, str], ...]], float], worker: str) -> str:
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (n, labels), v in s.items()
        if n == "complaintflow_stage_latency_seconds_bucket" and dict(labels).get("stage") == worker
    )
    if not buckets or buckets[-1][1] == 0:
        return "-"
    count = buckets[-1][1]

    def q(p: float) -> str:
        for le, v in buckets:
            if v >= p * count:
                return "∞" if le == float("inf") else f"≤{le:g}s"
        return "-"

    return f"{q(0.5)} → {q(0.99)}"
