"""What the report shows, made from the figures of a period and of the one before: headline
figures with their change, charts, and the tables of each section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.analytics.figures import NONE, Compliance, Figures
from services.analytics.periods import AGE_BANDS, Period
from services.analytics.report import charts
from services.analytics.report.labels import Words

TARGETS = ("acknowledge", "keep_informed", "resolve", "callback", "follow_up")
PRIORITIES = ("P1", "P2", "P3", "P4")
CHARTED = ("department", "channel", "source", "region", "product", "place")


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    previous: str
    change: str
    tone: str
    """`good`, `bad` or `neutral`: how the change reads for the business."""


def headline(f: Figures, prev: Figures, w: Words) -> list[Headline]:
    """The figures a review starts with, each against the previous period."""
    escalated, escalated_before = f.escalations.get(1, 0), prev.escalations.get(1, 0)
    rows: list[tuple[str, float | None, float | None, str, bool | None]] = [
        ("received", f.received, prev.received, "count", None),
        ("resolved_in", f.mttr.count, prev.mttr.count, "count", True),
        ("open_end", f.open_total, prev.open_total, "count", False),
        ("sla_rate", f.sla_total.rate, prev.sla_total.rate, "rate", True),
        ("mtta", f.mtta.median, prev.mtta.median, "duration", False),
        ("mttr", f.mttr.median, prev.mttr.median, "duration", False),
        ("reopen_rate", f.reopen_rate, prev.reopen_rate, "rate", False),
        ("repeat_rate", f.repeat_rate, prev.repeat_rate, "rate", False),
        ("csat", f.csat_mean, prev.csat_mean, "score", True),
        ("escalated", escalated, escalated_before, "count", False),
    ]
    return [_headline(w, *row) for row in rows]


def _headline(
    w: Words, key: str, now: float | None, before: float | None, kind: str, up_good: bool | None
) -> Headline:
    show = {
        "count": lambda v: w.number(v),
        "rate": w.percent,
        "duration": w.duration,
        "score": lambda v: w.number(v, 2),
    }[kind]
    if now is None or before is None or now == before:
        change, tone = ("±0" if now is not None and now == before else "–"), "neutral"
    else:
        if kind == "rate":
            change = f"{(now - before) * 100:+.1f} pt"
        elif kind == "score":
            change = f"{now - before:+.2f}"
        elif before:
            change = f"{(now - before) / before:+.0%}"
        else:
            change = w("new")
        better = (now > before) == up_good
        tone = "neutral" if up_good is None else ("good" if better else "bad")
    return Headline(w(key), show(now), show(before), change, tone)


def buckets(period: Period) -> list[datetime]:
    """The starts of the trend's buckets that overlap the period (UTC)."""
    start = period.start.replace(minute=0, second=0, microsecond=0)
    step = timedelta(hours=1)
    if period.bucket != "hour":
        start = start.replace(hour=0)
        step = timedelta(days=1)
    if period.bucket == "week":
        start -= timedelta(days=start.weekday())
        step = timedelta(days=7)
    out = []
    while start < period.end:
        out.append(start)
        start += step
    return out


def trend_chart(f: Figures, prev: Figures, w: Words) -> str:
    """Complaints per bucket, stacked by the five largest categories, and the previous
    period's totals bucket by bucket."""
    now_buckets = buckets(f.period)
    by_category = f.trend.get("category", {})
    top = [name for name, _ in f.volume.get("category", [])[:5]]
    stacks = [
        (w.category(name), [by_category[name].get(b, 0) for b in now_buckets]) for name in top
    ]
    rest = [
        sum(counts.get(b, 0) for name, counts in by_category.items() if name not in top)
        for b in now_buckets
    ]
    if any(rest):
        stacks.append((w("others"), rest))
    before = _totals(prev, buckets(prev.period))
    before = (before + [0] * len(now_buckets))[: len(now_buckets)]
    return charts.trend(
        now_buckets,
        stacks,
        before,
        title=w("per_bucket", bucket=w(f.period.bucket)),
        previous_label=w("previous_period"),
        bucket=f.period.bucket,
    )


def _totals(f: Figures, at: list[datetime]) -> list[int]:
    channels = f.trend.get("channel", {})
    return [sum(counts.get(b, 0) for counts in channels.values()) for b in at]


def top_issues(f: Figures, prev: Figures, w: Words) -> list[dict[str, Any]]:
    before = dict(prev.volume.get("category", []))
    rows = []
    for name, n in f.volume.get("category", [])[:10]:
        was = before.get(name, 0)
        change = f"{(n - was) / was:+.0%}" if was else w("new")
        rows.append({"name": w.category(name), "count": n, "previous": was, "change": change})
    return rows


def sla_rows(f: Figures, w: Words) -> list[dict[str, Any]]:
    """Per target: all priorities, then each priority, where anything fell due."""
    rows = []
    for target in [t for t in TARGETS if (t, "*") in f.sla]:
        for priority in ("*", *PRIORITIES, NONE):
            got = f.sla.get((target, priority))
            if got is None:
                continue
            name = w(target) if priority == "*" else ""
            rows.append(_compliance(name, w("all") if priority == "*" else priority, got, w))
    return rows


def _compliance(name: str, sub: str, got: Compliance, w: Words) -> dict[str, Any]:
    return {
        "name": name,
        "sub": sub,
        "met": got.met,
        "breached": got.breached,
        "pending": got.pending,
        "rate": w.percent(got.rate),
        "low": got.rate is not None and got.rate < 0.9,
    }


def _named(w: Words, dim: str, rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    name = {"department": w.department, "category": w.category}.get(dim)
    return [(name(v), n) for v, n in rows] if name else rows


def alert_rows(f: Figures, w: Words) -> list[dict[str, str]]:
    """The period's early-warning episodes as the report shows them: facts and terms only."""
    rows = []
    for a in f.alerts:
        baseline = "" if a.baseline is None else f" / {w.number(a.baseline, 1)}"
        rows.append(
            {
                "kind": w(a.kind),
                "where": ", ".join(f"{w(k)}: {v}" for k, v in sorted(a.where.items())) or w("all"),
                "opened": f"{a.opened_at:%Y-%m-%d %H:%M}",
                "closed": f"{a.closed_at:%Y-%m-%d %H:%M}" if a.closed_at else w("still_open"),
                "count": f"{a.peak_count}{baseline}",
                "p_value": "–" if a.p_value is None else f"{a.p_value:.2g}",
                "customers": w.number(a.distinct_customers),
                "terms": ", ".join(a.top_terms[:5]) or "–",
            }
        )
    return rows


def context(f: Figures, prev: Figures, w: Words, *, generated: datetime) -> dict[str, Any]:
    """Everything the template shows."""
    bands = [name for name, _ in AGE_BANDS]
    backlog = sorted(f.backlog.items(), key=lambda kv: -sum(kv[1].values()))
    by_department = sorted(f.sla_by_department.items(), key=lambda kv: -kv[1].breached)
    backlog = [(w.department(d), bands_) for d, bands_ in backlog]
    by_department = [(w.department(d), got) for d, got in by_department]
    volumes = [
        (dim, charts.bars(_named(w, dim, f.volume[dim][:8]), title=w(dim)))
        for dim in CHARTED
        if dim in f.volume and f.volume[dim] and not (dim == "source" and f.source)
    ]
    return {
        "w": w,
        "f": f,
        "lang": w.language,
        "center": f.source or w("all_centers"),
        "period": f.period.label(),
        "previous": prev.period.label(),
        "generated": f"{generated:%Y-%m-%d %H:%M} UTC",
        "headline": headline(f, prev, w),
        "trend": trend_chart(f, prev, w),
        "volumes": volumes,
        "top_issues": top_issues(f, prev, w),
        "alerts": alert_rows(f, w),
        "sla": sla_rows(f, w),
        "sla_departments": [_compliance(d, "", got, w) for d, got in by_department],
        "sla_chart": charts.stacked(
            [(d, [got.met, got.breached, got.pending]) for d, got in by_department],
            [w("met"), w("breached"), w("pending")],
            colors=(charts.GOOD, charts.BAD, charts.MUTED),
        )
        if by_department
        else None,
        "times": [
            (w(key), d, [w.duration(d.mean), w.duration(d.median), w.duration(d.p90)])
            for key, d in (
                ("ack_calendar", f.mtta),
                ("ack_business", f.mtta_business),
                ("res_calendar", f.mttr),
                ("res_business", f.mttr_business),
            )
        ],
        "backlog_chart": charts.stacked(
            [(d, [bands_[b] for b in bands]) for d, bands_ in backlog], bands
        )
        if backlog
        else None,
        "backlog": [(d, [bands_[b] for b in bands], sum(bands_.values())) for d, bands_ in backlog],
        "bands": bands,
        "escalations_chart": charts.columns(
            [(w("level_n", n=level), n) for level, n in f.escalations.items()],
            title=w("escalations"),
            color=charts.BAD,
        )
        if f.escalations
        else None,
        "csat_chart": charts.columns(
            [(str(score), n) for score, n in f.csat.items()], title=w("csat_title")
        )
        if f.csat_responses
        else None,
    }
