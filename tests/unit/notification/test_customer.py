"""What the customer is told after the acknowledgement: steps, the callback at risk, the
resolution and the survey, in their language, on their channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.common import Channel, Language, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from services.notification.compose import Facts
from services.notification.customer import CustomerNotices, progress_step
from services.notification.templates import Templates

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
NOTICES = CustomerNotices(
    Templates(),
    Language.ZH_HANS,
    "Asia/Shanghai",
    channels=("email", "sms"),
    survey_link=lambda facts, expires: f"https://x.example/v1/survey/{facts.complaint_id}",
)
FACTS = Facts(
    "cid-1",
    reference="CF-TEST-0001",
    language=Language.EN,
    customer_token="tok",
    contact_kind="email",
    resolve_deadline=NOW + timedelta(days=3),
)


def event(**fields: object) -> LifecycleEvent:
    return LifecycleEvent(
        complaint_id="cid-1",
        source="cc",
        source_event_id="e-1",
        occurred_at=NOW,
        recorded_at=NOW,
        channel=Channel.PHONE,
        **fields,  # type: ignore[arg-type]
    )


def test_only_real_steps_are_progress():
    steps = {s: progress_step(event(kind=LifecycleKind.STATUS, status=s)) for s in Status}
    assert {s.value: v for s, v in steps.items() if v} == {
        "assigned": "assigned",
        "in_progress": "in_progress",
        "waiting_on_customer": "waiting_on_you",
    }
    assert progress_step(event(kind=LifecycleKind.TRANSFER, agent="a")) == "transferred"
    assert progress_step(event(kind=LifecycleKind.CONTACT, note="called")) is None


def test_a_step_says_when_we_will_be_back_except_when_we_wait_for_the_customer():
    working = NOTICES.progress(FACTS, event(kind=LifecycleKind.STATUS), "in_progress", NOW)
    assert working.subject == "Your complaint CF-TEST-0001 is being worked on"
    assert "You will hear from us again within 3 working days, by Thursday 5 March" in working.text
    waiting = NOTICES.progress(FACTS, event(kind=LifecycleKind.STATUS), "waiting_on_you", NOW)
    assert "We need something from you" in waiting.text and "hear from us again" not in waiting.text


def test_a_customer_reached_by_phone_gets_a_short_sms_without_html():
    phone = Facts("cid-1", reference="CF-TEST-0001", customer_token="tok", contact_kind="phone")
    sms = NOTICES.progress(phone, event(kind=LifecycleKind.STATUS), "assigned", NOW)
    assert (sms.channel, sms.html, sms.language) == ("sms", None, Language.ZH_HANS)
    assert sms.text.strip() == "您的投诉 CF-TEST-0001 已指派专人负责处理。"
    only_mail = CustomerNotices(Templates(), Language.EN, "Asia/Shanghai", channels=("email",))
    assert only_mail.channel(phone) == "email"


def test_the_callback_at_risk_names_the_promise_in_the_customer_s_zone_and_is_urgent():
    notice = NOTICES.callback_at_risk(FACTS, NOW + timedelta(minutes=15), NOW)
    assert notice.urgent
    assert "by Monday 2 March 10:15" in notice.text


def test_the_resolution_says_what_was_done():
    notice = NOTICES.resolution(
        FACTS,
        event(
            kind=LifecycleKind.STATUS,
            status=Status.RESOLVED,
            corrective_action="Refunded",
            root_cause="a double charge",
        ),  # fmt: skip
    )
    assert "What we did: Refunded" in notice.text
    assert "What caused it: a double charge" in notice.text
    assert "So that it does not happen again" not in notice.text


def test_the_survey_waits_its_delay_but_never_past_half_the_follow_up():
    later = NOTICES.survey(FACTS, NOW + timedelta(days=3), NOW, delay=timedelta(hours=1),
                           valid=timedelta(days=14))  # fmt: skip
    assert later.not_before == NOW + timedelta(hours=1)
    assert "https://x.example/v1/survey/cid-1" in later.text
    soon = NOTICES.survey(FACTS, NOW + timedelta(minutes=20), NOW, delay=timedelta(hours=1),
                          valid=timedelta(days=14))  # fmt: skip
    assert soon.not_before == NOW + timedelta(minutes=10)
    at_once = NOTICES.survey(FACTS, NOW + timedelta(days=3), NOW, delay=timedelta(0),
                             valid=timedelta(days=14))  # fmt: skip
    assert at_once.not_before is None
