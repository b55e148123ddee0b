"""The figures managers run on, computed from the archive on event time (when things happened
at the call center, not when we processed them): one set-based statement per figure.

Who counts where (each rule is documented in the README's report section):
- received, volume, trend, reopen/repeat rates, CSAT, compensation, root causes, repeat issues:
  complaints that *happened* in the period (`occurred_at`);
- open backlog: complaints open at the period's end, by how long they had been open then;
- SLA compliance and escalations: SLA targets *due* in the period;
- time to acknowledge: complaints received in the period; time to resolve and the per-team and
  per-owner figures: complaints *resolved* in the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from services.analytics import alerts
from services.analytics.alerts import Episode
from services.analytics.archive import LATE, ON_TIME
from services.analytics.business_time import Calendars, calendars
from services.analytics.periods import AGE_BANDS, Period, age_band_sql

DIMENSIONS = (
    "category",
    "department",
    "channel",
    "region",
    "place",
    "product",
    "source",
    "priority",
)
"""What volume is counted by."""
NONE = "(none)"


@dataclass(frozen=True)
class Durations:
    """Seconds from one moment to another over a set of complaints."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Compliance:
    met: int = 0
    breached: int = 0
    pending: int = 0

    @property
    def rate(self) -> float | None:
        """Met on time over those decided (met or breached); None when none was."""
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class RootCause:
    cause: str
    complaints: int
    corrective_action: str | None
    preventive_action: str | None
    recurred: int
    """Complaints of this cause in the period that happened after its corrective action was
    first recorded (a resolution before the period's end)."""


@dataclass(frozen=True)
class Performance:
    """One team's or owner's complaints resolved in the period: the same measures for all."""

    name: str
    handled: int
    on_time: int
    reopened: int
    csat_mean: float | None


@dataclass
class Figures:
    period: Period
    source: str | None
    received: int = 0
    volume: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per dimension, (value, complaints) most first."""
    trend: dict[str, dict[str, dict[datetime, int]]] = field(default_factory=dict)
    """Per dimension, per value, complaints per bucket start (`period.bucket`)."""
    backlog: dict[str, dict[str, int]] = field(default_factory=dict)
    """Open at the period's end: department → age band → complaints."""
    sla: dict[tuple[str, str], Compliance] = field(default_factory=dict)
    """(target, priority) → compliance; priority `*` for all priorities of a target."""
    sla_by_department: dict[str, Compliance] = field(default_factory=dict)
    sla_total: Compliance = Compliance()
    escalations: dict[int, int] = field(default_factory=dict)
    """Level → targets escalated to it (a target at level 3 went through 1 and 2)."""
    mtta: Durations = Durations()
    mttr: Durations = Durations()
    mtta_business: Durations = Durations()
    mttr_business: Durations = Durations()
    resolved: int = 0
    """Received in the period and resolved at least once."""
    reopened: int = 0
    repeats: int = 0
    csat: dict[int, int] = field(default_factory=dict)
    compensation: list[tuple[str, Decimal, int]] = field(default_factory=list)
    """(currency, amount, complaints compensated)."""
    root_causes: list[RootCause] = field(default_factory=list)
    repeat_issues: list[tuple[str, int]] = field(default_factory=list)
    teams: list[Performance] = field(default_factory=list)
    owners: list[Performance] = field(default_factory=list)
    alerts: list[Episode] = field(default_factory=list)
    """Early-warning episodes open at some time in the period (all call centers)."""

    @property
    def open_total(self) -> int:
        return sum(sum(bands.values()) for bands in self.backlog.values())

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.resolved if self.resolved else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeats / self.received if self.received else None

    @property
    def csat_responses(self) -> int:
        return sum(self.csat.values())

    @property
    def csat_mean(self) -> float | None:
        n = self.csat_responses
        return sum(score * k for score, k in self.csat.items()) / n if n else None

    @property
    def csat_response_rate(self) -> float | None:
        return self.csat_responses / self.resolved if self.resolved else None


PARTS = (
    "volume",
    "backlog",
    "sla",
    "durations",
    "cohort",
    "root_causes",
    "performance",
    "alerts",
)


def compute(
    conn: psycopg.Connection,
    period: Period,
    *,
    source: str | None = None,
    parts: tuple[str, ...] = PARTS,
    business: Calendars | None = None,
) -> Figures:
    """The figures of one period (and one call center, when `source` is given): all of them,
    or those of `parts`; business time on the calendars of `business` (the shipped SLA
    policies' when None)."""
    f = Figures(period, source)
    p: dict[str, Any] = {"start": period.start, "end": period.end, "source": source}
    p["calendars"] = business or calendars()
    if "volume" in parts:
        _volume(conn, f, p, DIMENSIONS)
        _trend(conn, f, p, DIMENSIONS)
    for part in parts:
        if part != "volume":
            STEPS[part](conn, f, p)
    return f


RECEIVED = (
    "c.reference IS NOT NULL AND c.occurred_at >= %(start)s AND c.occurred_at < %(end)s"
    " AND (%(source)s::text IS NULL OR c.source = %(source)s)"
)
OF_SOURCE = "c.reference IS NOT NULL AND (%(source)s::text IS NULL OR c.source = %(source)s)"
RESOLVED = f"{OF_SOURCE} AND c.resolved_at >= %(start)s AND c.resolved_at < %(end)s"


def by_dimension(dims: tuple[str, ...], *extra: str) -> tuple[str, str]:
    """(which dimension and its value, GROUPING SETS of each dimension with `extra`)."""
    which = " ".join(f"WHEN GROUPING(c.{d}) = 0 THEN '{d}'" for d in dims)
    values = ", ".join(f"c.{d}" for d in dims)
    sets = ", ".join(f"({', '.join((*extra, f'c.{d}'))})" for d in dims)
    return f"CASE {which} END, COALESCE({values}, '{NONE}')", f"GROUPING SETS ({sets})"


def _volume(conn: psycopg.Connection, f: Figures, p: dict[str, Any], dims: tuple[str, ...]):
    which, sets = by_dimension(dims)
    rows = conn.execute(
        f"SELECT {which}, count(*) FROM analytics.complaints c WHERE {RECEIVED}"  # noqa: S608
        f" GROUP BY {sets} ORDER BY 1, 3 DESC, 2",
        p,
    ).fetchall()
    f.volume = {d: [] for d in dims}
    for dim, value, n in rows:
        f.volume[dim].append((value, n))
    f.received = sum(n for _, n in f.volume["channel"])


def _trend(conn: psycopg.Connection, f: Figures, p: dict[str, Any], dims: tuple[str, ...]):
    bucket = f"date_trunc('{f.period.bucket}', c.occurred_at, 'UTC')"  # hour, day or week
    which, sets = by_dimension(dims, bucket)
    rows = conn.execute(
        f"SELECT {bucket}, {which}, count(*) FROM analytics.complaints c"  # noqa: S608
        f" WHERE {RECEIVED} GROUP BY {sets} ORDER BY 1",
        p,
    ).fetchall()
    f.trend = {d: {} for d in dims}
    for at, dim, value, n in rows:
        f.trend[dim].setdefault(value, {})[at] = n


def _backlog(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    rows = conn.execute(
        f"SELECT COALESCE(c.department, '{NONE}'),"  # noqa: S608
        f" {age_band_sql('(%(end)s - c.occurred_at)')}, count(*)"
        f" FROM analytics.complaints c WHERE {OF_SOURCE} AND c.occurred_at < %(end)s"
        " AND (c.resolved_at IS NULL OR c.resolved_at >= %(end)s) GROUP BY 1, 2",
        p,
    ).fetchall()
    order = [name for name, _ in AGE_BANDS]
    for department, band, n in rows:
        f.backlog.setdefault(department, dict.fromkeys(order, 0))[band] = n


TARGET_COUNTS = (
    f"count(*) FILTER (WHERE {ON_TIME} OR (t.met_at IS NULL AND t.state = 'met'"
    " AND NOT t.breached)),"
    f" count(*) FILTER (WHERE {LATE}),"
    " count(*) FILTER (WHERE t.met_at IS NULL AND t.state IN ('active', 'paused')"
    " AND NOT t.breached)"
)
"""Met on time, missed, pending — on event time where the archive knows when a target was met
(acknowledge, resolve), else as the SLA clock said."""
TARGETS_DUE = (
    "analytics.sla_targets t JOIN analytics.complaints c USING (complaint_id)"
    f" WHERE {OF_SOURCE} AND t.deadline >= %(start)s AND t.deadline < %(end)s"
)


def _sla(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    rows = conn.execute(
        "SELECT GROUPING(t.target, c.priority, c.department), t.target,"  # noqa: S608
        f" COALESCE(c.priority, '{NONE}'), COALESCE(c.department, '{NONE}'), {TARGET_COUNTS}"
        f" FROM {TARGETS_DUE} GROUP BY GROUPING SETS"
        " ((t.target, c.priority), (t.target), (c.department), ())",
        p,
    ).fetchall()
    for grouping, target, priority, department, met, breached, pending in rows:
        got = Compliance(met, breached, pending)
        if grouping == 0b001:
            f.sla[(target, priority)] = got
        elif grouping == 0b011:
            f.sla[(target, "*")] = got
        elif grouping == 0b110:
            f.sla_by_department[department] = got
        else:
            f.sla_total = got
    levels = conn.execute(
        f"SELECT t.escalation_level, count(*) FROM {TARGETS_DUE}"  # noqa: S608
        f" AND t.escalation_level > 0 AND {LATE} GROUP BY 1",
        p,
    ).fetchall()
    top = max((level for level, _ in levels), default=0)
    f.escalations = {
        level: sum(n for reached, n in levels if reached >= level) for level in range(1, top + 1)
    }


DURATION = (
    "count({x}), avg({x}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {x}),"
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY {x})"
)


def _durations(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    """Calendar time from the complaint to its first acknowledging status (acknowledged,
    assigned, ...) and to its resolution, on event time; and the business time between the
    same event times on the calendar the complaint's SLA policy counts that target on."""
    ack = conn.execute(
        f"SELECT {DURATION.format(x='extract(epoch FROM c.acknowledged_at - c.occurred_at)')}"  # noqa: S608
        f" FROM analytics.complaints c WHERE {RECEIVED} AND c.acknowledged_at IS NOT NULL",
        p,
    ).fetchone()
    res = conn.execute(
        f"SELECT {DURATION.format(x='extract(epoch FROM c.resolved_at - c.occurred_at)')}"  # noqa: S608
        f" FROM analytics.complaints c WHERE {RESOLVED}",
        p,
    ).fetchone()
    assert ack is not None and res is not None
    f.mtta, f.mttr = _dur(ack), _dur(res)
    f.mtta_business = _business(conn, p, "acknowledge", RECEIVED)
    f.mttr_business = _business(conn, p, "resolve", RESOLVED)


def _business(conn: psycopg.Connection, p: dict[str, Any], target: str, which: str) -> Durations:
    """Business time from the complaint to its acknowledgement or resolution (`target`), over
    the complaints `which` selects: on the calendar its SLA policy counts `target` on, or its
    call center's when the SLA clock did not track it (an import whose statuses came before
    the routing decision)."""
    cal = p["calendars"]
    done = "c.acknowledged_at" if target == "acknowledge" else "c.resolved_at"
    rows = conn.execute(
        f"SELECT t.policy, c.source, c.occurred_at, {done} FROM analytics.complaints c"  # noqa: S608
        " LEFT JOIN analytics.sla_targets t ON t.complaint_id = c.complaint_id"
        f" AND t.target = %(target)s WHERE {done} IS NOT NULL AND {which}",
        {**p, "target": target},
    ).fetchall()
    return summary([cal.seconds(policy, target, src, at, met) for policy, src, at, met in rows])


def summary(values: list[float]) -> Durations:
    """Count, mean, median and 90th percentile (interpolated, as `percentile_cont`)."""
    if not values:
        return Durations()
    ordered = sorted(values)

    def pct(q: float) -> float:
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return Durations(len(ordered), sum(ordered) / len(ordered), pct(0.5), pct(0.9))


def _dur(row: tuple[Any, ...]) -> Durations:
    n, *values = row
    return Durations(n, *(None if v is None else float(v) for v in values))


def _cohort(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE c.resolved_at IS NOT NULL OR c.reopen_count > 0),"  # noqa: S608
        " count(*) FILTER (WHERE c.reopen_count > 0), count(*) FILTER (WHERE c.repeat_count > 0)"
        f" FROM analytics.complaints c WHERE {RECEIVED}",
        p,
    ).fetchone()
    assert row is not None
    f.resolved, f.reopened, f.repeats = row
    f.csat = dict.fromkeys(range(1, 6), 0)
    for score, n in conn.execute(
        f"SELECT c.csat, count(*) FROM analytics.complaints c WHERE {RECEIVED}"  # noqa: S608
        " AND c.csat IS NOT NULL GROUP BY 1",
        p,
    ):
        f.csat[score] = n
    f.compensation = [
        (currency, amount, n)
        for currency, amount, n in conn.execute(
            f"SELECT COALESCE(c.compensation_currency, '{NONE}'), sum(c.compensation_amount),"  # noqa: S608
            f" count(*) FROM analytics.complaints c WHERE {RECEIVED}"
            " AND c.compensation_amount > 0 GROUP BY 1 ORDER BY 2 DESC",
            p,
        )
    ]
    f.repeat_issues = [
        (issue, n)
        for issue, n in conn.execute(
            "SELECT concat_ws(' / ', COALESCE(c.category, %(none)s), c.sub_category),"  # noqa: S608
            f" count(*) FROM analytics.complaints c WHERE {RECEIVED} AND c.repeat_count > 0"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
            {**p, "none": NONE},
        )
    ]


def _root_causes(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    """The commonest causes of the period's complaints, each with its commonest corrective
    and preventive action, and how often it came back after its action was first taken."""
    rows = conn.execute(
        "WITH acted AS (SELECT lower(btrim(c.root_cause)) AS cause,"  # noqa: S608
        "  min(c.resolved_at) AS first_at FROM analytics.complaints c"
        f"  WHERE {OF_SOURCE} AND c.corrective_action IS NOT NULL AND c.resolved_at < %(end)s"
        "  GROUP BY 1)"
        " SELECT mode() WITHIN GROUP (ORDER BY btrim(c.root_cause)), count(*),"
        "  mode() WITHIN GROUP (ORDER BY c.corrective_action),"
        "  mode() WITHIN GROUP (ORDER BY c.preventive_action),"
        "  count(*) FILTER (WHERE c.occurred_at > a.first_at)"
        " FROM analytics.complaints c"
        " LEFT JOIN acted a ON a.cause = lower(btrim(c.root_cause))"
        f" WHERE {RECEIVED} AND c.root_cause IS NOT NULL"
        " GROUP BY lower(btrim(c.root_cause)) ORDER BY 2 DESC, 1 LIMIT 10",
        p,
    ).fetchall()
    f.root_causes = [RootCause(*row) for row in rows]


def _performance(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    rows = conn.execute(
        "SELECT GROUPING(c.queue), COALESCE(c.queue, c.owner, %(none)s), count(*),"  # noqa: S608
        f" count(*) FILTER (WHERE t.complaint_id IS NOT NULL AND NOT {LATE}),"
        " count(*) FILTER (WHERE c.reopen_count > 0), avg(c.csat)"
        " FROM analytics.complaints c LEFT JOIN analytics.sla_targets t"
        "  ON t.complaint_id = c.complaint_id AND t.target = 'resolve'"
        f" WHERE {OF_SOURCE} AND c.resolved_at >= %(start)s AND c.resolved_at < %(end)s"
        " GROUP BY GROUPING SETS ((c.queue), (c.owner)) ORDER BY 3 DESC, 2",
        {**p, "none": NONE},
    ).fetchall()
    for is_owner, name, handled, on_time, reopened, csat in rows:
        got = Performance(name, handled, on_time, reopened, None if csat is None else float(csat))
        (f.owners if is_owner else f.teams).append(got)


def _alerts(conn: psycopg.Connection, f: Figures, p: dict[str, Any]) -> None:
    f.alerts = alerts.of_period(conn, f.period)


STEPS = {
    "backlog": _backlog,
    "sla": _sla,
    "durations": _durations,
    "cohort": _cohort,
    "root_causes": _root_causes,
    "performance": _performance,
    "alerts": _alerts,
}
