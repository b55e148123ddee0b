"""A week of complaints, told as the events analytics consumes, whose figures can be checked by
hand (tests of the figures and the report). Every time is relative to `base`, a Monday 00:00
UTC: the same story told a year earlier is last year's week.

The week [base, base + 7 d), complaint by complaint (h = hours, d = days after base):
- A  billing/phone/north/broadband at "Oxford St store", finance, P3, agent-1. At 1 h;
     acknowledged 30 min later; resolved at 1 d 1 h ("Double charge" → refund, dedupe);
     CSAT 5; 10.00 GBP. SLA: acknowledge met (1800 s business), resolve met (20000 s).
- B  billing/email, finance, P3, agent-1, a repeat. At 1 d 2 h; acknowledged 2 h later;
     resolved 2 d 2 h, reopened 3 d, resolved again 4 d 2 h ("Double charge " → refund);
     CSAT 2. SLA: acknowledge met (3600 s), resolve breached and escalated to level 2.
- C  delivery/phone/south/router at "Oxford St store", logistics, P2, agent-2. At 2 d;
     acknowledged 10 min later; open. SLA: acknowledge breached (level 1) then met (600 s);
     resolve pending (due 6 d).
- D  delivery/web/south at "51.5,-0.12", logistics, P2, a repeat (twice). At 3 d; open.
     SLA: acknowledge breached, level 1.
- E  billing/phone/north/broadband, finance, P4. At 6 d 23 h; open.
- H  billing/chat at the Taipei call center, finance, P3. At 2 d; open.
Before the week: F (billing, finance, P3) at -10 d, open, its resolve target due at 1 d
breached and escalated to level 3; G (billing, finance, P3, agent-3) at -5 d, resolved at
2 d ("double charge" → refund). After it: I at 7 d 1 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from schemas.alerts import Alert, AlertKind, AlertStatus
from schemas.common import Channel, Language, Priority, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.analytics import alerts, archive
from services.analytics.migrations import MIGRATIONS
from services.kernel.db import migrate

BASE = datetime(2026, 3, 2, tzinfo=UTC)
LAST_YEAR = datetime(2025, 3, 3, tzinfo=UTC)
"""The Monday 52 weeks before `BASE`."""

H, D = timedelta(hours=1), timedelta(days=1)


class Story:
    def __init__(self, base: datetime, tag: str) -> None:
        self.base, self.tag = base, tag
        self.events: list[Any] = []
        self._routes: dict[str, RoutedComplaint] = {}

    def complaint(
        self,
        cid: str,
        at: timedelta,
        *,
        category: str,
        channel: str,
        department: str,
        priority: str,
        region: str | None = None,
        product: str | None = None,
        place: str | None = None,
        owner: str | None = None,
        source: str = "london-cc",
        repeat: int = 0,
    ) -> None:
        when, cid = self.base + at, self.tag + cid
        self.events.append(
            RegisteredComplaint(
                complaint_id=cid,
                reference=f"CF-{cid.upper():0>4}-TEST",
                source=source,
                external_ref=f"X-{cid}",
                source_event_id=f"ev-{cid}",
                occurred_at=when,
                source_utc_offset="+00:00",
                registered_at=when,
                channel=Channel(channel),
                language=Language.EN,
                category=category,
                product=product,
                description="scripted",
                customer_token=f"cus_{cid}",
                region=region,
                place=place,
                repeat_count=repeat,
            )
        )
        route = RoutedComplaint(
            complaint_id=cid,
            source=source,
            version=1,
            category=category,
            department=department,
            queue=f"{department}-q",
            owner=owner,
            priority=Priority(priority),
            sla_policy=f"standard-{priority}",
            reasons=["scripted"],
            occurred_at=when,
            routed_at=when,
        )
        self._routes[cid] = route
        self.events.append(route)

    def status(self, cid: str, value: str, at: timedelta, **fields: Any) -> None:
        self._lifecycle(cid, LifecycleKind.STATUS, at, status=Status(value), **fields)

    def survey(self, cid: str, score: int, at: timedelta) -> None:
        self._lifecycle(cid, LifecycleKind.SURVEY_ANSWERED, at, score=score)

    def compensation(self, cid: str, amount: str, at: timedelta) -> None:
        kind = LifecycleKind.COMPENSATION_OFFERED
        self._lifecycle(cid, kind, at, amount=amount, currency="GBP")

    def _lifecycle(self, cid: str, kind: LifecycleKind, at: timedelta, **fields: Any) -> None:
        cid = self.tag + cid
        self.events.append(
            LifecycleEvent(
                complaint_id=cid,
                kind=kind,
                source="london-cc",
                source_event_id=f"{cid}-{kind}-{at.total_seconds()}",
                occurred_at=self.base + at,
                recorded_at=self.base + at,
                channel=Channel.PHONE,
                **fields,
            )
        )

    def sla(
        self,
        cid: str,
        target: str,
        kind: str,
        due: timedelta,
        *,
        level: int | None = None,
        elapsed: float | None = None,
    ) -> None:
        cid = self.tag + cid
        route = self._routes[cid]
        self.events.append(
            SlaEvent(
                complaint_id=cid,
                kind=SlaEventKind(kind),
                target=SlaTarget(target),
                policy=route.sla_policy,
                priority=route.priority,
                department=route.department,
                deadline=self.base + due,
                emitted_at=self.base + due,
                level=level,
                elapsed_seconds=elapsed,
            )
        )


def week(base: datetime = BASE, tag: str = "") -> list[Any]:
    """The story's events in the order analytics might consume them; `tag` starts every
    complaint id (another week's complaints are other complaints)."""
    s = Story(base, tag)
    resolution = dict(root_cause="Double charge", corrective_action="refund")
    s.complaint("a", 1 * H, category="billing", channel="phone", department="finance",
                priority="P3", region="north", product="broadband", owner="agent-1",
                place="Oxford St store")  # fmt: skip
    s.sla("a", "acknowledge", "started", 2 * H)
    s.status("a", "acknowledged", 1.5 * H)
    s.sla("a", "acknowledge", "met", 2 * H, elapsed=1800)
    s.sla("a", "resolve", "started", 3 * D)
    s.status("a", "resolved", D + H, preventive_action="dedupe", **resolution)
    s.sla("a", "resolve", "met", 3 * D, elapsed=20000)
    s.survey("a", 5, D + 2 * H)
    s.compensation("a", "10.00", D + 2 * H)

    s.complaint("b", D + 2 * H, category="billing", channel="email", department="finance",
                priority="P3", region="north", product="broadband", owner="agent-1",
                repeat=1)  # fmt: skip
    s.status("b", "acknowledged", D + 4 * H)
    s.sla("b", "acknowledge", "met", D + 6 * H, elapsed=3600)
    s.sla("b", "resolve", "started", D + 12 * H)
    s.sla("b", "resolve", "breached", D + 12 * H)
    s.sla("b", "resolve", "escalated", D + 12 * H, level=1)
    s.sla("b", "resolve", "escalated", D + 12 * H, level=2)
    again = dict(root_cause="Double charge ", corrective_action="refund")  # another spelling
    s.status("b", "resolved", 2 * D + 2 * H, **again)
    s.status("b", "reopened", 3 * D)
    s.status("b", "resolved", 4 * D + 2 * H)
    s.survey("b", 2, 4 * D + 3 * H)

    s.complaint("c", 2 * D, category="delivery", channel="phone", department="logistics",
                priority="P2", region="south", product="router", owner="agent-2",
                place="Oxford St store")  # fmt: skip
    s.sla("c", "acknowledge", "breached", 2 * D + 5 * H / 60)
    s.sla("c", "acknowledge", "escalated", 2 * D + 5 * H / 60, level=1)
    s.status("c", "acknowledged", 2 * D + 10 * H / 60)
    s.sla("c", "acknowledge", "met", 2 * D + 5 * H / 60, elapsed=600)
    s.sla("c", "resolve", "started", 6 * D)

    s.complaint("d", 3 * D, category="delivery", channel="web", department="logistics",
                priority="P2", region="south", place="51.5,-0.12", repeat=2)  # fmt: skip
    s.sla("d", "acknowledge", "breached", 3 * D + H)
    s.sla("d", "acknowledge", "escalated", 3 * D + H, level=1)

    s.complaint("e", 6 * D + 23 * H, category="billing", channel="phone", department="finance",
                priority="P4", region="north", product="broadband")  # fmt: skip
    s.complaint("h", 2 * D, category="billing", channel="chat", department="finance",
                priority="P3", source="taipei-cc")  # fmt: skip

    s.complaint("f", -10 * D, category="billing", channel="phone", department="finance",
                priority="P3")  # fmt: skip
    s.sla("f", "resolve", "breached", D)
    for level in (1, 2, 3):
        s.sla("f", "resolve", "escalated", D, level=level)
    s.complaint("g", -5 * D, category="billing", channel="phone", department="finance",
                priority="P3", owner="agent-3")  # fmt: skip
    s.status("g", "resolved", 2 * D, root_cause="double charge", corrective_action="refund")
    s.complaint("i", 7 * D + H, category="billing", channel="phone", department="finance",
                priority="P3")  # fmt: skip
    return s.events


def alert(key: str, revision: int, at: timedelta, count: int, base: datetime = BASE, **f: Any):
    """One message about early-warning episode `key`, detected at `at` into the week."""
    kind = AlertKind(key.split(":")[0])
    return Alert(
        alert_key=f"{key}:{base:%Y}",
        kind=kind,
        status=(AlertStatus.OPEN, AlertStatus.UPDATED, AlertStatus.CLOSED)[revision - 1],
        revision=revision,
        category=f.pop("category", "*"),
        slice=f.pop("slice"),
        summary=f"{kind} at {at}",
        window_start=base + at - H,
        window_end=base + at,
        detected_at=base + at,
        count=count,
        complaint_ids=["x"],
        score=f.pop("score", 1.0),
        **f,
    )


def warnings(base: datetime = BASE) -> list[Alert]:
    """Early-warning episodes about the week, in the order analytics might consume them:
    - a billing spike in the north, opened at 1 d (3 against 0.8), grown at 1 d 1 h (5),
      closed at 2 d;
    - a collective complaint at "Oxford St store" opened at 6 d (3 customers), still open;
    - a spike opened and closed in the week before, and a theme opened after the week."""
    north = dict(category="billing", slice={"category": "billing", "region": "north"})
    spike = dict(baseline=0.8, p_value=0.004, score=6.2, distinct_customers=3, **north)
    return [
        alert("spike:north", 1, D, 3, base, top_terms=["charged", "twice"], **spike),
        alert(
            "collective:oxford",
            1,
            6 * D,
            3,
            base,
            slice={"place": "Oxford St store"},
            distinct_customers=3,
            score=3.0,
            top_terms=["router", "断网"],
        ),  # fmt: skip
        alert("spike:north", 3, 2 * D, 1, base, top_terms=["charged", "twice"], **spike),
        alert("spike:north", 2, D + H, 5, base, top_terms=["charged", "twice"], **spike),
        alert("spike:old", 1, -5 * D, 4, base, slice={"channel": "web"}),
        alert("spike:old", 3, -4 * D, 0, base, slice={"channel": "web"}),
        alert("emerging_issue:later", 1, 8 * D, 4, base, slice={}),
    ]


def archived(conn: psycopg.Connection, *bases: datetime) -> None:
    """The week told at each of `bases` (each its own complaints), archived through the
    archive's writing path long after it happened."""
    migrate(conn, "analytics", MIGRATIONS)
    for n, base in enumerate(bases):
        story = week(base, tag=f"{base.year}-")
        events = [(f"ce-{n}-{i}", "topic", model) for i, model in enumerate(story)]
        archive.record(conn, events, BASE + timedelta(weeks=30))
        alerts.record(conn, warnings(base), BASE + timedelta(weeks=30))
    conn.commit()
