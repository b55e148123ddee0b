"""Which notifications an event calls for, and their text, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import Language
from schemas.notifications import Audience
from schemas.registered import RegisteredComplaint
from schemas.sla import SlaEvent, SlaEventKind

ACK = {
    Language.EN: "We have received your complaint. Your reference is {reference}. "
    "We will keep you informed of every step.",
    Language.ZH_HANS: "我们已收到您的投诉，受理编号 {reference}。我们会及时告知您处理进展。",
    Language.ZH_HANT: "我們已收到您的投訴，受理編號 {reference}。我們會及時告知您處理進展。",
}
BREACH = (
    "SLA breached: complaint {complaint_id} ({priority}, {department}) passed its {target} "
    "deadline {deadline}."
)
ESCALATION = (
    "Escalation level {level} to {role}: complaint {complaint_id} ({priority}, {department}) "
    "breached its {target} deadline {deadline} and is still open."
)


@dataclass(frozen=True)
class Notice:
    key: str
    """At most one notification is sent per key."""
    kind: str
    audience: Audience
    recipient: str
    language: Language
    body: str


def acknowledgement(complaint: RegisteredComplaint) -> Notice:
    """The customer's acknowledgement of receipt, with the reference, in their language."""
    return Notice(
        key=f"{complaint.complaint_id}:ack",
        kind="acknowledgement",
        audience=Audience.CUSTOMER,
        recipient=complaint.customer_token,
        language=complaint.language,
        body=ACK[complaint.language].format(reference=complaint.reference),
    )


def for_sla(event: SlaEvent) -> Notice | None:
    """The staff notice an SLA event calls for (breaches and escalations), if any."""
    fields = {
        "complaint_id": event.complaint_id,
        "priority": event.priority.value,
        "department": event.department,
        "target": event.target.value,
        "deadline": event.deadline.isoformat(timespec="seconds"),
    }
    if event.kind == SlaEventKind.BREACHED:
        return Notice(
            key=f"{event.complaint_id}:{event.target.value}:{event.deadline.isoformat()}:breach",
            kind="sla_breach",
            audience=Audience.STAFF,
            recipient=f"owner:{event.department}",
            language=Language.EN,
            body=BREACH.format(**fields),
        )
    if event.kind == SlaEventKind.ESCALATED and event.level is not None:
        role = event.escalated_to or f"level-{event.level}"
        return Notice(
            key=f"{event.complaint_id}:{event.target.value}:{event.deadline.isoformat()}"
            f":escalation:{event.level}",
            kind="sla_escalation",
            audience=Audience.STAFF,
            recipient=f"{role}:{event.department}",
            language=Language.EN,
            body=ESCALATION.format(level=event.level, role=role, **fields),
        )
    return None
