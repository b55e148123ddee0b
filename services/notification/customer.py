"""What the customer is told after the acknowledgement: each real step of progress, a promised
callback about to be missed (before it is), the resolution, and the satisfaction survey.

Pure functions of what the worker knows (`Facts`), the event and the time; the worker decides
about coalescing and history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas.common import Language, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from services.notification.compose import EMAIL, Facts, Notice, to_customer
from services.notification.templates import Templates
from services.notification.wording import promise, when, zone

SMS = "sms"
STEPS = {
    Status.ASSIGNED: "assigned",
    Status.IN_PROGRESS: "in_progress",
    Status.WAITING_ON_CUSTOMER: "waiting_on_you",
}
"""Status changes a customer hears of (a transfer is the fourth step)."""
SurveyLink = Callable[[Facts, datetime], str | None]
"""(facts, expires) → the signed address of the survey page, or None without one."""


def progress_step(event: LifecycleEvent) -> str | None:
    """The step of progress an event is, as the customer hears of it (None: not one)."""
    if event.kind == LifecycleKind.TRANSFER:
        return "transferred"
    if event.kind == LifecycleKind.STATUS and event.status is not None:
        return STEPS.get(event.status)
    return None


@dataclass(frozen=True)
class CustomerNotices:
    templates: Templates
    language: Language
    time_zone: str
    channels: tuple[str, ...] = (EMAIL,)
    """The customer channels this worker can send on, in order of preference."""
    survey_link: SurveyLink | None = None

    def channel(self, facts: Facts) -> str:
        """SMS for a customer reached by phone when SMS is offered, else email."""
        if facts.contact_kind == "phone" and SMS in self.channels:
            return SMS
        return EMAIL if EMAIL in self.channels or not self.channels else self.channels[0]

    def _notice(
        self, key: str, kind: str, facts: Facts, urgent: bool = False, **ctx: object
    ) -> Notice:
        lang = facts.language or self.language
        channel = self.channel(facts)
        out = self.templates.render(
            channel,
            kind,
            lang,
            reference=facts.reference or facts.complaint_id,
            subject=facts.subject_line,
            **ctx,
        )
        return to_customer(key, kind, facts, channel, lang, out, urgent=urgent)

    def progress(self, facts: Facts, event: LifecycleEvent, step: str, now: datetime) -> Notice:
        """One step of progress; later steps in the coalescing window replace its text."""
        lang = facts.language or self.language
        tz = zone(facts.time_zone, facts.utc_offset, self.time_zone)
        deadline = facts.resolve_deadline
        return self._notice(
            f"{facts.complaint_id}:progress:{event.source_event_id}",
            "progress",
            facts,
            step=step,
            promise=(
                promise(lang, now=now, deadline=deadline, tz=tz)
                if deadline is not None and deadline > now and step != "waiting_on_you"
                else None
            ),
            at=when(event.occurred_at, lang, tz),
        )

    def callback_at_risk(self, facts: Facts, due: datetime, now: datetime) -> Notice:
        """Said before the promised time passes: we may be late, and what happens next."""
        lang = facts.language or self.language
        tz = zone(facts.time_zone, facts.utc_offset, self.time_zone)
        return self._notice(
            f"{facts.complaint_id}:callback:{due.isoformat()}:at_risk",
            "callback_at_risk",
            facts,
            urgent=True,  # the promise is minutes away: quiet hours do not hold it back
            promised=when(due, lang, tz),
        )

    def resolution(self, facts: Facts, event: LifecycleEvent) -> Notice:
        """What was done: the corrective action, the cause found, what prevents it again."""
        return self._notice(
            f"{facts.complaint_id}:resolved:{event.source_event_id}",
            "resolution",
            facts,
            corrective_action=event.corrective_action or event.note,
            root_cause=event.root_cause,
            preventive_action=event.preventive_action,
        )

    def survey(
        self, facts: Facts, deadline: datetime, now: datetime, *, delay: timedelta, valid: timedelta
    ) -> Notice:
        """The satisfaction survey: after the resolution, at most half-way to the follow-up
        target, with a signed link that works until the target's deadline plus `valid`."""
        send_at = now + min(delay, max(timedelta(0), (deadline - now) / 2))
        link = self.survey_link(facts, deadline + valid) if self.survey_link else None
        notice = self._notice(
            f"{facts.complaint_id}:survey:{deadline.isoformat()}",
            "survey",
            facts,
            link=link,
            reminder=False,
        )
        if send_at <= now:
            return notice
        return replace(notice, not_before=send_at, why_later="sent some time after the resolution")

    def survey_reminder(self, facts: Facts, deadline: datetime, *, valid: timedelta) -> Notice:
        """The one reminder of an unanswered survey, at the follow-up target's deadline (an
        answer before then cancels it); the same link, valid as long."""
        link = self.survey_link(facts, deadline + valid) if self.survey_link else None
        notice = self._notice(
            f"{facts.complaint_id}:survey_reminder:{deadline.isoformat()}",
            "survey",
            facts,
            link=link,
            reminder=True,
        )
        return replace(
            notice,
            kind="survey_reminder",
            not_before=deadline,
            why_later="reminds once, at the follow-up deadline, if the survey is not answered",
        )
