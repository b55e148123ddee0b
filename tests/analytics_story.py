"""A scripted story of two complaints, told as the events analytics consumes (for tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.common import Channel, Language, Priority, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import Audience, NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def registered(cid: str) -> RegisteredComplaint:
    return RegisteredComplaint(
        complaint_id=cid,
        reference=f"CF-{cid[-4:].upper():0>4}-TEST",
        source="london-cc",
        external_ref=f"L-{cid}",
        source_event_id=f"ev-{cid}",
        occurred_at=T0,
        source_utc_offset="+00:00",
        registered_at=T0,
        channel=Channel.PHONE,
        language=Language.EN,
        category="billing",
        description="charged twice",
        customer_token="cus_1",
        place=f"Store {cid[-4:]}, High St",
    )


def routed(cid: str, version: int, department: str, owner: str | None) -> RoutedComplaint:
    return RoutedComplaint(
        complaint_id=cid,
        version=version,
        category="billing" if version == 1 else "refunds",
        department=department,
        queue=f"{department}-q",
        owner=owner,
        priority=Priority.P3,
        sla_policy="standard-P3",
        reasons=["test"],
        occurred_at=T0,
        routed_at=at(version),
    )


def lifecycle(
    cid: str, kind: LifecycleKind, tag: str, minutes: float, **fields: object
) -> LifecycleEvent:
    """A follow-up of complaint `cid` at `minutes` into the story (`tag` makes its id)."""
    return LifecycleEvent(
        complaint_id=cid,
        kind=kind,
        source="london-cc",
        source_event_id=f"{cid}-{tag}-{minutes}",
        occurred_at=at(minutes),
        recorded_at=at(minutes),
        channel="phone",
        **fields,  # type: ignore[arg-type]
    )


def status(cid: str, value: Status, minutes: float, score: int | None = None) -> LifecycleEvent:
    return lifecycle(cid, LifecycleKind.STATUS, str(value), minutes, status=value, score=score)


def survey(cid: str, score: int, minutes: float, comment: str | None = None) -> LifecycleEvent:
    kind = LifecycleKind.SURVEY_ANSWERED
    return lifecycle(cid, kind, "survey", minutes, score=score, comment=comment)


def compensation(cid: str, amount: str, minutes: float) -> LifecycleEvent:
    kind = LifecycleKind.COMPENSATION_OFFERED
    return lifecycle(cid, kind, "comp", minutes, amount=amount, currency="GBP")


def resolution(cid: str, minutes: float) -> LifecycleEvent:
    return lifecycle(
        cid,
        LifecycleKind.STATUS,
        "resolution",
        minutes,
        status=Status.RESOLVED,
        root_cause="billing run charged twice",
        corrective_action="refunded the second charge",
        preventive_action="de-duplicate billing runs",
    )


def sla(
    cid: str,
    kind: SlaEventKind,
    level: int | None = None,
    deadline: float = 60,
    target: SlaTarget = SlaTarget.RESOLVE,
    elapsed: float | None = None,
) -> SlaEvent:
    return SlaEvent(
        complaint_id=cid,
        kind=kind,
        target=target,
        elapsed_seconds=elapsed,
        policy="standard-P3",
        priority=Priority.P3,
        department="finance",
        deadline=at(deadline),
        emitted_at=at(deadline),
        level=level,
    )


def notified(cid: str, n: int) -> NotificationOutcome:
    return NotificationOutcome(
        notification_key=f"{cid}:{n}",
        complaint_id=cid,
        kind="ack",
        audience=Audience.CUSTOMER,
        recipient="cus_1",
        channel="outbox",
        language=Language.EN,
        outcome=Outcome.SENT,
        attempts=1,
        at=at(n),
    )


def story() -> list:
    """Events in consumption order: some arrive before the complaint's registration."""
    a, b = "c-aaaa", "c-bbbb"
    return [
        status(b, Status.ACKNOWLEDGED, 1),  # before b is registered (another topic)
        registered(a),
        routed(a, 1, "finance", "agent-1"),
        status(a, Status.ASSIGNED, 2),
        notified(a, 1),
        sla(a, SlaEventKind.STARTED),
        sla(a, SlaEventKind.STARTED, target=SlaTarget.ACKNOWLEDGE, deadline=10),
        sla(a, SlaEventKind.MET, target=SlaTarget.ACKNOWLEDGE, deadline=10, elapsed=120.0),
        compensation(a, "10.50", 20),
        routed(b, 1, "finance", None),
        registered(b),
        status(a, Status.RESOLVED, 30),
        sla(a, SlaEventKind.MET),
        status(a, Status.REOPENED, 40),
        routed(a, 2, "refunds", "agent-2"),
        routed(a, 1, "finance", "agent-1"),  # a late copy of an older decision
        sla(b, SlaEventKind.BREACHED, deadline=90),
        sla(b, SlaEventKind.ESCALATED, level=3, deadline=90),
        sla(b, SlaEventKind.ESCALATED, level=2, deadline=90),
        resolution(a, 50),
        compensation(a, "5.00", 52),
        status(a, Status.CLOSED, 55),
        survey(a, 4, 60, comment="quick once someone listened"),
        notified(a, 2),
        notified(b, 3),
    ]
