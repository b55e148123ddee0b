"""Which notices an event calls for, to whom, and their text: pure functions of what the worker
knows of the complaint (`Facts`), the roster's people, the templates and the time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from schemas.common import Language, Priority
from schemas.notifications import Audience
from schemas.sla import SlaEvent, SlaEventKind
from services.notification.directory import Directory, Person
from services.notification.templates import Rendered, Templates
from services.notification.wording import promise, when, zone

EMAIL = "email"
TARGETS = {
    Language.EN: {
        "acknowledge": "acknowledgement",
        "keep_informed": "progress update",
        "resolve": "resolution",
        "callback": "promised callback",
        "follow_up": "follow-up",
    },
    Language.ZH_HANS: {
        "acknowledge": "受理确认",
        "keep_informed": "进展告知",
        "resolve": "解决",
        "callback": "承诺回电",
        "follow_up": "回访",
    },
    Language.ZH_HANT: {
        "acknowledge": "受理確認",
        "keep_informed": "進展告知",
        "resolve": "解決",
        "callback": "承諾回電",
        "follow_up": "回訪",
    },
}
ROLES = {
    Language.EN: {
        "owner": "owner",
        "team_lead": "team lead",
        "department_manager": "department manager",
        "director": "director",
        "executive": "executive",
    },
    Language.ZH_HANS: {
        "owner": "负责人",
        "team_lead": "组长",
        "department_manager": "部门经理",
        "director": "总监",
        "executive": "高管",
    },
    Language.ZH_HANT: {
        "owner": "負責人",
        "team_lead": "組長",
        "department_manager": "部門經理",
        "director": "總監",
        "executive": "高管",
    },
}
REASONS = {
    Language.EN: {"P1": "priority P1", "sensitive": "sensitive", "period": "special period"},
    Language.ZH_HANS: {"P1": "P1 优先级", "sensitive": "敏感投诉", "period": "特殊时期"},
    Language.ZH_HANT: {"P1": "P1 優先級", "sensitive": "敏感投訴", "period": "特殊時期"},
}


@dataclass(frozen=True)
class Facts:
    """What notification knows of a complaint: from registered, routed, lifecycle and SLA."""

    complaint_id: str
    reference: str | None = None
    language: Language | None = None
    time_zone: str | None = None
    utc_offset: str | None = None
    customer_token: str | None = None
    subject: str | None = None
    description: str = ""
    category: str | None = None
    category_display: dict[str, str] = field(default_factory=dict)
    """The category's name as people read it, by language (from routing)."""
    occurred_at: datetime | None = None
    historical: bool = False
    owner: str | None = None
    department: str | None = None
    priority: Priority | None = None
    sensitive: bool = False
    safety: bool = False
    """Routing found someone may be hurt: customer messages are never held back."""
    special_periods: list[str] = field(default_factory=list)
    resolve_deadline: datetime | None = None
    source: str | None = None
    external_ref: str | None = None
    contact_kind: str | None = None
    """'email' or 'phone': how the customer is reached (the address stays in the vault)."""
    follow_up_deadline: datetime | None = None
    surveyed: bool = False

    def category_name(self, lang: str) -> str:
        """The category as a person reading `lang` reads it: its display name in that
        language, else in Chinese or English, else the taxonomy's name."""
        shown = self.category_display
        for want in (lang, "zh-Hans" if lang == "zh-Hant" else lang, "en", "zh-Hans"):
            if shown.get(want):
                return shown[want]
        return self.category or ""

    @property
    def subject_line(self) -> str | None:
        """The subject, unless it only repeats the start of the description."""
        subject = (self.subject or "").strip()
        return subject if subject and not self.description.startswith(subject) else None


@dataclass(frozen=True)
class Notice:
    key: str
    """At most one notification is sent per key."""
    kind: str
    audience: Audience
    recipient: str
    """Customer token or the person's roster id; never contact data."""
    channel: str
    language: Language
    subject: str
    text: str
    html: str | None
    urgent: bool = False
    undeliverable: str | None = None
    """Why nobody can be told (no such person in the roster): recorded as dead at once."""
    not_before: datetime | None = None
    """Held back until then (a coalescing window, quiet hours, the survey's schedule)."""
    why_later: str | None = None
    """Why it is held back, for the `deferred` outcome."""


def to_customer(
    key: str,
    kind: str,
    facts: Facts,
    channel: str,
    language: Language,
    out: Rendered,
    *,
    urgent: bool = False,
) -> Notice:
    """A rendered notice to the complaint's customer (dead at once without a token)."""
    return Notice(
        key=key,
        kind=kind,
        audience=Audience.CUSTOMER,
        recipient=facts.customer_token or "",
        channel=channel,
        language=language,
        subject=out.subject,
        text=out.text,
        html=out.html if channel == EMAIL else None,
        urgent=urgent,
        undeliverable=None if facts.customer_token else "no customer token",
    )


class Composer:
    def __init__(
        self,
        templates: Templates,
        directory: Directory,
        *,
        language: Language,
        time_zone: str,
        status_secret: Callable[[str], str] | None = None,
    ) -> None:
        """`status_secret` gives the code a customer shows with the reference to see where
        the complaint stands (the archive's status lookup checks it)."""
        self.templates, self.directory = templates, directory
        self.language, self.time_zone = language, time_zone
        self.status_secret = status_secret

    def customer_zone(self, facts: Facts) -> tzinfo:
        return zone(facts.time_zone, facts.utc_offset, self.time_zone)

    def acknowledgement(self, facts: Facts, now: datetime, channel: str = EMAIL) -> Notice:
        """The customer's acknowledgement: the reference and by when they will hear from us."""
        lang = facts.language or self.language
        tz = self.customer_zone(facts)
        said = (
            promise(lang, now=now, deadline=facts.resolve_deadline, tz=tz)
            if facts.resolve_deadline is not None and facts.resolve_deadline > now
            else None
        )
        out = self.templates.render(
            channel,
            "acknowledgement",
            lang,
            reference=facts.reference or facts.complaint_id,
            subject=facts.subject_line,
            description=facts.description,
            promise=said,
            status_secret=(
                self.status_secret(facts.reference)
                if self.status_secret is not None and facts.reference
                else None
            ),
        )
        return to_customer(
            f"{facts.complaint_id}:ack", "acknowledgement", facts, channel, lang, out
        )

    def assignment(self, facts: Facts) -> Notice | None:
        """The owner is told the complaint is now theirs."""
        if not facts.owner:
            return None
        return self._staff(
            f"{facts.complaint_id}:assigned:{facts.owner}",
            "assigned",
            facts,
            self.directory.person(facts.owner),
            f"owner {facts.owner!r}",
            deadline=facts.resolve_deadline,
        )

    def management(self, facts: Facts) -> list[Notice]:
        """P1, sensitive and special-period complaints: management is told at once (urgent:
        on every channel they have, whatever the hour)."""
        marks = [
            mark
            for mark, on in (
                ("P1", facts.priority == Priority.P1),
                ("sensitive", facts.sensitive),
                ("period", bool(facts.special_periods)),
            )
            if on
        ]
        if not marks or not facts.department:
            return []
        people = self.directory.management(facts.department)
        if not people:
            return [
                self._staff(
                    f"{facts.complaint_id}:management",
                    "management_alert",
                    facts,
                    None,
                    f"management of {facts.department}",
                    marks=marks,
                    urgent=True,
                )
            ]
        return [
            self._staff(
                f"{facts.complaint_id}:management:{p.id}",
                "management_alert",
                facts,
                p,
                p.id,
                marks=marks,
                urgent=True,
            )
            for p in people
        ]

    def for_sla(self, event: SlaEvent, facts: Facts) -> list[Notice]:
        """Warnings and breaches to the owner; each escalation level to its person."""
        base = f"{event.complaint_id}:{event.target.value}:{event.deadline.isoformat()}"
        department = facts.department or event.department
        if event.kind in (SlaEventKind.WARNING, SlaEventKind.BREACHED):
            person, role = self.directory.person(facts.owner), "owner"
            if person is None:  # nobody owns it yet: the team lead does
                person, role = self.directory.at_level(department, "team_lead"), "team_lead"
            kind = "sla_warning" if event.kind == SlaEventKind.WARNING else "sla_breach"
            suffix = f"warning:{event.threshold_pct}" if kind == "sla_warning" else "breach"
            return [
                self._staff(
                    f"{base}:{suffix}",
                    kind,
                    facts,
                    person,
                    f"{role} of {department}",
                    event=event,
                    urgent=kind == "sla_breach",
                )
            ]
        if event.kind == SlaEventKind.ESCALATED and event.level is not None:
            role = event.escalated_to or "team_lead"
            if role == "owner":  # the breach notice has just told the owner
                return []
            person = (
                self.directory.person(facts.owner)
                if role == "owner"
                else self.directory.at_level(department, role)
            )
            return [
                self._staff(
                    f"{base}:escalation:{event.level}",
                    "sla_escalation",
                    facts,
                    person,
                    f"{role} of {department}",
                    event=event,
                    role=role,
                    urgent=True,
                )
            ]
        return []

    def _staff(
        self,
        key: str,
        kind: str,
        facts: Facts,
        person: Person | None,
        wanted: str,
        *,
        event: SlaEvent | None = None,
        deadline: datetime | None = None,
        role: str | None = None,
        marks: list[str] | None = None,
        urgent: bool = False,
    ) -> Notice:
        lang = person.language if person else self.language
        tz = zone(person.time_zone if person else None, None, self.time_zone)
        due = event.deadline if event is not None else deadline
        owner = self.directory.person(facts.owner)
        out = self.templates.render(
            EMAIL,
            kind,
            lang,
            person_name=(person.name or person.id) if person else "",
            reference=facts.reference or facts.complaint_id,
            priority=str(facts.priority or (event.priority if event else "")),
            department=facts.department or (event.department if event else ""),
            category=facts.category_name(lang),
            subject=facts.subject_line,
            description=facts.description,
            target=TARGETS[lang][event.target.value] if event else "",
            deadline=when(due, lang, tz) if due else None,
            pct=event.threshold_pct if event else None,
            level=event.level if event else None,
            role=ROLES[lang].get(role or "", role or ""),
            owner_name=(owner.name or owner.id) if owner else None,
            reasons=[REASONS[lang][m] for m in marks or []],
        )
        return Notice(
            key=key,
            kind=kind,
            audience=Audience.STAFF,
            recipient=person.id if person else f"nobody:{wanted}",
            channel=EMAIL,
            language=lang,
            subject=out.subject,
            text=out.text,
            html=out.html,
            urgent=urgent,
            undeliverable=None if person else f"nobody in the roster for {wanted}",
        )
