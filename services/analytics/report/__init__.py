"""The period report managers read (`complaintflow report`): one self-contained HTML file with
its charts inside, or the same figures as CSV, or the page printed to PDF."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from pathlib import Path

import psycopg
from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.progress import Progress

from services.analytics import figures, queries
from services.analytics.business_time import Calendars
from services.analytics.figures import Figures
from services.analytics.periods import Period
from services.analytics.report import browser, charts
from services.analytics.report.build import context, headline
from services.analytics.report.labels import FONTS, Words

FORMATS = ("html", "csv", "pdf")


def render_html(f: Figures, prev: Figures, words: Words, *, generated: datetime) -> str:
    """The report as one HTML document (charts as `data:` images, nothing fetched)."""
    charts.use_font(FONTS[words.language])
    env = Environment(
        loader=PackageLoader("services.analytics.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    page = env.get_template("report.html.j2")
    return page.render(**context(f, prev, words, generated=generated))


def render_csv(f: Figures, prev: Figures, words: Words) -> str:
    """The figures as rows of (section, name, detail, value, previous)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(("section", "name", "detail", "value", "previous"))
    for h in headline(f, prev, words):
        w.writerow(("headline", h.label, "", h.value, h.previous))
    before = {dim: dict(rows) for dim, rows in prev.volume.items()}
    for dim, rows in f.volume.items():
        for value, n in rows:
            w.writerow(("volume", dim, value, n, before.get(dim, {}).get(value, 0)))
    for dim, values in f.trend.items():
        for value, counts in values.items():
            for at, n in sorted(counts.items()):
                w.writerow((f"trend_{f.period.bucket}", f"{dim}={value}", at.isoformat(), n, ""))
    for department, bands in f.backlog.items():
        for band, n in bands.items():
            w.writerow(("backlog", department, band, n, ""))
    for (target, priority), got in sorted(f.sla.items()):
        w.writerow(("sla_met", target, priority, got.met, ""))
        w.writerow(("sla_breached", target, priority, got.breached, ""))
    for level, n in f.escalations.items():
        w.writerow(("escalations", "level", level, n, prev.escalations.get(level, 0)))
    for score, n in f.csat.items():
        w.writerow(("csat", "score", score, n, prev.csat.get(score, 0)))
    for currency, amount, n in f.compensation:
        w.writerow(("compensation", currency, n, amount, ""))
    for c in f.root_causes:
        w.writerow(("root_cause", c.cause, c.corrective_action or "", c.complaints, c.recurred))
    for issue, n in f.repeat_issues:
        w.writerow(("repeat_issue", issue, "", n, ""))
    for a in f.alerts:
        where = ",".join(f"{k}={v}" for k, v in sorted(a.where.items()))
        w.writerow(("alert", a.kind, where, a.peak_count, "" if a.baseline is None else a.baseline))
    for kind, people in (("team", f.teams), ("owner", f.owners)):
        for p in people:
            w.writerow((kind, p.name, "handled", p.handled, ""))
            w.writerow((kind, p.name, "on_time", p.on_time, ""))
            w.writerow((kind, p.name, "reopened", p.reopened, ""))
    return out.getvalue()


def write_report(
    url: str,
    period: Period,
    out: Path,
    *,
    source: str | None = None,
    business: Calendars | None = None,
    language: str = "en",
    fmt: str = "html",
    now: datetime,
    progress: bool = True,
) -> Path:
    """Compute the period's and the previous period's figures from the archive and write the
    report to `out`, showing each step on stderr. Business time is counted on the calendars
    of `business` (the shipped SLA policies' when None)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    words = Words(language)
    steps = 4 if fmt != "csv" else 3
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task("figures of the period", total=steps)
        with psycopg.connect(url) as conn:
            words.categories = queries.category_names(conn)
            f = figures.compute(conn, period, source=source, business=business)
            bar.update(task, advance=1, description="figures of the period before")
            prev = figures.compute(conn, period.previous(), source=source, business=business)
        bar.update(task, advance=1, description="charts and pages")
        if fmt == "csv":
            out.write_text(render_csv(f, prev, words), encoding="utf-8")
            bar.update(task, advance=1)
            return out
        html = render_html(f, prev, words, generated=now)
        bar.update(task, advance=1, description="writing")
        if fmt == "html":
            out.write_text(html, encoding="utf-8")
        else:
            with tempfile.TemporaryDirectory(prefix="cf-report-") as tmp:
                page = Path(tmp) / "report.html"
                page.write_text(html, encoding="utf-8")
                browser.print_pdf(page, out)
        bar.update(task, advance=1)
    return out
