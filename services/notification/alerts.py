"""Early warnings for management: who hears of an episode of `complaints.alerts.v1` and what
they read. Pure: the worker decides when (open, material growth, close)."""

from __future__ import annotations

from schemas.alerts import Alert, AlertStatus
from schemas.notifications import Audience
from services.notification.compose import EMAIL, Composer, Notice
from services.notification.directory import Directory, Person
from services.notification.wording import when, zone

CROSS_DEPARTMENT = ("director", "executive")
"""Who hears of an episode that names no department: the default chain's top."""


def management_for(directory: Directory, alert: Alert) -> list[Person]:
    """The department's management when the episode names one, else the default chain's
    director and executive."""
    department = alert.slice.get("department")
    if department:
        found = directory.management(department)
        if found:
            return found
    people = [directory.at_level("default", role) for role in CROSS_DEPARTMENT]
    return list({p.id: p for p in people if p is not None}.values())


def announcement(
    composer: Composer, alert: Alert, people: list[Person], *, previous: int
) -> list[Notice]:
    """One notice per person, in their language; a key per episode revision and person."""
    if not people:
        return [_notice(composer, alert, None, previous)]
    return [_notice(composer, alert, p, previous) for p in people]


def _notice(composer: Composer, alert: Alert, person: Person | None, previous: int) -> Notice:
    lang = person.language if person else composer.language
    tz = zone(person.time_zone if person else None, None, composer.time_zone)
    out = composer.templates.render(
        EMAIL,
        "early_warning",
        lang,
        person_name=(person.name or person.id) if person else "",
        alert_kind=alert.kind.value,
        status=alert.status.value,
        summary=alert.summary,
        category=alert.category,
        where=", ".join(f"{k}={v}" for k, v in sorted(alert.slice.items())),
        count=alert.count,
        previous=previous,
        baseline=None if alert.baseline is None else round(alert.baseline, 1),
        customers=alert.distinct_customers,
        terms=alert.top_terms[:8],
        since=when(alert.since, lang, tz) if alert.since else None,
        window=f"{when(alert.window_start, lang, tz)} – {when(alert.window_end, lang, tz)}",
        evidence=alert.complaint_ids[:10],
    )
    return Notice(
        key=f"alert:{alert.alert_key}:r{alert.revision}:{person.id if person else 'nobody'}",
        kind="early_warning",
        audience=Audience.STAFF,
        recipient=person.id if person else "nobody:management",
        channel=EMAIL,
        language=lang,
        subject=out.subject,
        text=out.text,
        html=out.html,
        urgent=alert.status != AlertStatus.CLOSED,
        undeliverable=None if person else "nobody in the roster's default chain for alerts",
    )
