"""Customer messages, early warnings and the HTTP channels through the real broker and
database, a real local SMTP server and real local HTTP servers: each message once, in the
customer's language; progress coalesced; alerts to management; a webhook whose signature the
receiver verifies; quiet hours; a circuit that opens and recovers."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from schemas.alerts import Alert, AlertKind, AlertStatus
from schemas.common import Channel, Language, Priority, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registry import ALERTS, LIFECYCLE, ROUTED
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEventKind
from services.devstack.mailcatcher import ChatCatcher, read_mail
from tests.conftest import wait_for, wait_ready
from tests.http_receiver import Receiver
from tests.integration import test_notification_delivery as delivery
from tests.integration.test_notification_delivery import Scenario, by_recipient

pytestmark = pytest.mark.integration
mail, scenario = delivery.mail, delivery.scenario  # the same fixtures
SECRET = "whsec_" + base64.b64encode(b"webhook secret for the tests!!!!").decode()


@pytest.fixture
def http():
    r = Receiver().start()
    yield r
    r.stop()


def register(s: Scenario, cid: str, *, email: str | None = None, phone: str | None = None) -> None:
    s.customer(cid, email, language=Language.ZH_HANS, phone=phone)


def lifecycle(s: Scenario, cid: str, event_id: str, **fields) -> None:
    now = datetime.now(UTC)
    kind = fields.pop("kind", LifecycleKind.STATUS)
    s.publish(
        LIFECYCLE,
        cid,
        LifecycleEvent(
            complaint_id=cid,
            kind=kind,
            source="test-cc",
            source_event_id=event_id,
            occurred_at=now,
            recorded_at=now,
            channel=Channel.PHONE,
            **fields,
        ),
    )


def customer_mails(folder, address: str) -> list[str]:
    return by_recipient(folder).get(address, [])


def test_a_customer_hears_each_step_once_in_their_language(cf, scenario, mail, worker_factory):
    # Given the worker with a 4-second progress window and the survey at once
    worker = worker_factory(
        "notification",
        cf,
        **scenario.env(
            CF_NOTIFY_PROGRESS_WINDOW_SECONDS="4",
            CF_NOTIFY_SURVEY_DELAY_SECONDS="0",
            CF_NOTIFY_SURVEY_URL="https://complaints.example.com/v1/survey",
        ),
    )
    wait_ready([worker])
    a = "c1000000-0000-0000-0000-00000000a001"
    me = "wangfang@example.com"
    deadline = datetime.now(UTC) + timedelta(days=3)
    register(scenario, a, email=me)
    scenario.routed(a, "cn-finance-01", Priority.P2)
    scenario.sla(a, SlaEventKind.STARTED, deadline)
    wait_for(lambda: len(customer_mails(mail.folder, me)) == 1, what="the acknowledgement")
    # When three steps come within one window
    lifecycle(scenario, a, "s1", status=Status.ASSIGNED)
    wait_for(lambda: len(customer_mails(mail.folder, me)) == 2, what="the first progress mail")
    lifecycle(scenario, a, "s2", status=Status.IN_PROGRESS)
    lifecycle(scenario, a, "s3", kind=LifecycleKind.TRANSFER, agent="cn-finance-01",
              department="finance")  # fmt: skip
    lifecycle(
        scenario, a, "s3", kind=LifecycleKind.TRANSFER, agent="cn-finance-01", department="finance"
    )  # fmt: skip  (replayed)
    # Then one more progress mail, after the window, telling the latest step
    wait_for(lambda: len(customer_mails(mail.folder, me)) == 3, what="the coalesced progress")
    subjects = customer_mails(mail.folder, me)
    assert subjects[1] == "您的投诉 CF-A001-TEST 已指派专人负责处理"
    assert subjects[2] == "您的投诉 CF-A001-TEST 已转交最合适的团队处理"
    # When a promised callback is about to be missed, then the complaint is resolved
    promised = datetime.now(UTC) + timedelta(minutes=15)
    scenario.sla(a, SlaEventKind.WARNING, promised, target="callback", threshold_pct=90)
    lifecycle(scenario, a, "s4", status=Status.RESOLVED, corrective_action="已退还多扣的200元话费",
              root_cause="计费系统重复扣费")  # fmt: skip
    scenario.sla(a, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3),
                 target="follow_up")  # fmt: skip
    wait_for(lambda: len(customer_mails(mail.folder, me)) == 6, what="six customer mails")

    mails = {m.subject: m for m in read_mail(mail.folder) if me in m.recipients}
    at_risk = mails["承诺的回电可能延迟（受理编号 CF-A001-TEST）"]
    local = promised.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{local.month}月{local.day}日" in at_risk.part("plain")  # before the promise passes
    resolved = mails["您的投诉 CF-A001-TEST 已处理完毕"]
    assert "处理结果：已退还多扣的200元话费" in resolved.part("plain")
    assert "问题原因：计费系统重复扣费" in resolved.part("plain")
    survey = mails["请为我们的服务打分（受理编号 CF-A001-TEST）"]
    link = re.search(r"https://complaints\.example\.com/v1/survey/\S+", survey.part("plain"))
    assert link is not None and link.group(0) in survey.part("html")
    # and nothing went twice: every notice key once, every customer mail once
    outcomes = scenario.final(6 + 2)  # the customer's six; assigned and a warning to the owner
    sent = [o for o in outcomes if o["outcome"] == "sent"]
    assert len({o["notification_key"] for o in sent}) == len(sent)
    assert [o["kind"] for o in sent if o["audience"] == "customer"].count("progress") == 2
    assert len(customer_mails(mail.folder, me)) == 6


def test_early_warnings_reach_management_on_open_growth_and_close(
    cf, scenario, mail, http, worker_factory
):
    worker = worker_factory(
        "notification",
        cf,
        **scenario.env(CF_WEBHOOK_URL=f"{http.url}/hooks", CF_WEBHOOK_SECRET=SECRET),
    )
    wait_ready([worker])
    now = datetime.now(UTC)

    def alert(status: AlertStatus, revision: int, count: int) -> Alert:
        return Alert(
            alert_key="collective:place=store-17:2026-12-02",
            kind=AlertKind.COLLECTIVE,
            status=status,
            revision=revision,
            category="*",
            slice={"place": "store-17"},
            summary=f"{count} customers about store 17 since 09:00",
            since=now - timedelta(hours=2),
            window_start=now - timedelta(hours=2),
            window_end=now,
            detected_at=now,
            count=count,
            distinct_customers=count,
            complaint_ids=["c-1", "c-2"],
            score=float(count),
        )

    # When an episode opens, grows a little, grows a lot, is replayed and closes
    for status, revision, count in [
        (AlertStatus.OPEN, 1, 6),
        (AlertStatus.UPDATED, 2, 7),
        (AlertStatus.UPDATED, 3, 14),
        (AlertStatus.UPDATED, 3, 14),
        (AlertStatus.CLOSED, 4, 14),
    ]:
        scenario.publish(ALERTS, "collective:place=store-17", alert(status, revision, count))

    # Then the director and the executive each read three mails; the subscriber three posts
    wait_for(lambda: len(read_mail(mail.folder)) >= 6 and len(http.on("/hooks")) >= 3,
             what="six mails and three webhook posts")  # fmt: skip
    got = by_recipient(mail.folder)
    assert sorted(got) == ["gao.zhiyuan@complaintflow.example", "lin.hui@complaintflow.example"]
    for subjects in got.values():
        assert len(subjects) == 3
        assert subjects[0].startswith(("预警：群体投诉", "Early warning: Collective complaint"))
    posts = http.on("/hooks")
    datas = [Webhook(SECRET).verify(p.body, p.headers)["data"] for p in posts]  # verified
    assert [d["kind"] for d in datas] == ["early_warning"] * 3
    assert len({p.headers["webhook-id"] for p in posts}) == 3
    outcomes = scenario.final(9)
    assert len([o for o in outcomes if o["outcome"] == "sent"]) == 9


def test_sms_quiet_hours_defer_and_a_failing_gateway_opens_then_closes_its_circuit(
    cf, scenario, mail, http, worker_factory
):
    # Given quiet hours around now in Shanghai and a gateway that fails three times
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = local - timedelta(hours=1), local + timedelta(seconds=60)  # the next minute
    http.answers.extend([503, 503, 503])
    worker = worker_factory(
        "notification",
        cf,
        **scenario.env(
            CF_SMS_URL=f"{http.url}/sms",
            CF_SMS_TOKEN="gateway-token-123",
            CF_NOTIFY_QUIET_HOURS=f"{start:%H:%M}-{end:%H:%M}",
            CF_NOTIFY_CIRCUIT_FAILURES="2",
            CF_NOTIFY_CIRCUIT_COOLDOWN_SECONDS="2",
            CF_NOTIFY_RETRY_BASE_SECONDS="0.2",
        ),
    )
    wait_ready([worker])
    # When a P3 customer and a P1 customer, both reached by phone, are acknowledged
    quiet, loud = "c1000000-0000-0000-0000-00000000b001", "c1000000-0000-0000-0000-00000000b002"
    for cid, priority in ((quiet, Priority.P3), (loud, Priority.P1)):
        register(scenario, cid, phone="+86 139 1234 5678")
        scenario.routed(cid, "cn-finance-01", priority)
        scenario.sla(cid, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3),
                     priority=priority)  # fmt: skip

    # Then the P1 one goes at once through a circuit that opens and closes again
    def circuit(value: str) -> bool:
        return f'complaintflow_notification_circuit_open{{channel="sms"}} {value}' in (
            worker.metrics()
        )

    wait_for(lambda: circuit("1.0"), what="the SMS circuit to open")
    wait_for(lambda: len(http.on("/sms")) >= 1 and circuit("0.0"), what="the circuit to close")
    assert http.on("/sms")[0].headers["authorization"] == "Bearer gateway-token-123"
    # and the P3 one waits for the end of the quiet hours, then goes too
    wait_for(lambda: len(http.on("/sms")) == 2, timeout=120, what="both SMS sent")
    outcomes = scenario.final(6)  # two SMS, two assignments, P1's management (two)
    deferred = [o for o in outcomes if o["complaint_id"] == quiet and o["outcome"] == "deferred"]
    assert [o["detail"] for o in deferred] == ["quiet hours"]
    assert datetime.fromisoformat(deferred[0]["next_attempt_at"]) >= end.replace(second=0) - (
        timedelta(minutes=1)
    )
    assert not [o for o in outcomes if o["complaint_id"] == loud and o["outcome"] == "deferred"]
    texts = [p.json()["text"] for p in http.on("/sms")]
    assert all("受理编号" in t for t in texts)
    log = worker.log.read_text()
    assert "gateway-token-123" not in log and "1234 5678" not in log


def test_a_recipient_s_hourly_limit_defers_and_history_from_the_sla_timer_is_not_sent(
    cf, scenario, mail, worker_factory
):
    # Given one non-urgent notice per recipient per hour
    worker = worker_factory(
        "notification", cf, **scenario.env(CF_NOTIFY_RECIPIENT_LIMIT_PER_HOUR="1")
    )
    wait_ready([worker])
    c = "c1000000-0000-0000-0000-00000000c001"
    me = "limited@example.com"
    register(scenario, c, email=me)
    scenario.sla(c, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))
    wait_for(lambda: customer_mails(mail.folder, me), what="the acknowledgement")
    # When a step of progress follows, and the SLA timer reports a breach it marks historical
    lifecycle(scenario, c, "p1", status=Status.IN_PROGRESS)
    scenario.sla(c, SlaEventKind.BREACHED, datetime.now(UTC) - timedelta(days=200),
                 late_by_seconds=200 * 86400.0, historical=True)  # fmt: skip

    # Then the progress message waits for the hour, and the breach is recorded, not sent
    def seen(kind: str, outcome: str) -> list[dict]:
        found = [json.loads(m.value) for m in scenario.outcomes.poll()]
        return [o for o in found if o["kind"] == kind and o["outcome"] == outcome]

    [held] = wait_for(lambda: seen("progress", "deferred"), what="the progress held back")  # type: ignore[misc]
    assert held["detail"] == "rate limit: 1 an hour to one recipient on email"
    assert datetime.fromisoformat(held["next_attempt_at"]) > datetime.now(UTC) + timedelta(
        minutes=55
    )
    [skipped] = wait_for(lambda: seen("sla_breach", "skipped"), what="the breach skipped")  # type: ignore[misc]
    assert skipped["detail"].startswith("historical")
    assert len(read_mail(mail.folder)) == 1


def test_an_unanswered_survey_is_reminded_once_then_closed_as_no_answer(
    cf, scenario, mail, worker_factory
):
    # Given the worker sending surveys at once, with links that work 3 s past the deadline
    worker = worker_factory(
        "notification",
        cf,
        **scenario.env(
            CF_NOTIFY_SURVEY_DELAY_SECONDS="0",
            CF_NOTIFY_SURVEY_VALID_DAYS="0.00004",
            CF_NOTIFY_SURVEY_URL="https://complaints.example.com/v1/survey",
        ),
    )
    wait_ready([worker])
    answers, silent = "c1000000-0000-0000-0000-00000000b0a1", "c1000000-0000-0000-0000-00000000b0a2"
    to = {answers: "answers@example.com", silent: "silent@example.com"}
    # When both complaints are resolved and their follow-up targets start (due in 8 s)
    # (each acknowledged first: the worker reads its topics in no order relative to each other,
    # and a resolution of a complaint it has not seen registered has nobody to go to)
    for cid in (answers, silent):
        register(scenario, cid, email=to[cid])
        scenario.routed(cid, "cn-finance-01", Priority.P3)
        scenario.sla(cid, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))
        ack = f"我们已收到您的投诉（受理编号 CF-{cid[-4:].upper()}-TEST）"
        wait_for(lambda c=cid, a=ack: a in customer_mails(mail.folder, to[c]),
                 what="the acknowledgement")  # fmt: skip
        lifecycle(scenario, cid, f"{cid}-done", status=Status.RESOLVED, corrective_action="退款")
    deadline = datetime.now(UTC) + timedelta(seconds=8)
    for cid in (answers, silent):
        scenario.sla(cid, SlaEventKind.STARTED, deadline, target="follow_up")
    survey = "请为我们的服务打分（受理编号 CF-{}-TEST）"
    for cid in (answers, silent):
        wait_for(lambda c=cid: survey.format(c[-4:].upper()) in customer_mails(mail.folder, to[c]),
                 what="the survey")  # fmt: skip
    # and one customer answers before the deadline
    lifecycle(scenario, answers, f"{answers}-survey", kind=LifecycleKind.SURVEY_ANSWERED, score=4)

    # Then the silent one is reminded once, at the deadline, with the same link
    reminded = "提醒：" + survey.format(silent[-4:].upper())
    wait_for(lambda: reminded in customer_mails(mail.folder, to[silent]), timeout=60,
             what="the one reminder")  # fmt: skip
    # and the one who answered is not: the reminder waiting for them is skipped
    keys = {}

    def outcomes() -> bool:
        for m in scenario.outcomes.poll():
            o = json.loads(m.value)
            keys.setdefault(o["notification_key"], []).append(o["outcome"])
        return any(k.startswith(f"{answers}:survey_reminder:") and "skipped" in v
                   for k, v in keys.items())  # fmt: skip

    wait_for(outcomes, what="the answered survey's reminder skipped")
    # When the link has expired, Then the silent survey is closed as no answer, counted
    closed = 'complaintflow_surveys_closed_total{outcome="no_answer"} 1.0'
    wait_for(lambda: closed in worker.metrics(), timeout=60, what="the survey closed unanswered")
    assert 'complaintflow_surveys_closed_total{outcome="answered"} 1.0' in worker.metrics()
    with psycopg.connect(cf.db_url()) as conn:
        found = conn.execute(
            "SELECT complaint_id, survey_closed FROM notification.complaints"
            " WHERE complaint_id = ANY(%s)",
            ([answers, silent],),
        )
        rows = dict(found.fetchall())
    assert rows == {answers: "answered", silent: "no_answer"}
    # and nobody else was told: each customer got the acknowledgement, the resolution and the
    # survey (and the silent one its reminder); staff only the owner's assignment
    expected = {to[answers]: 3, to[silent]: 4, "li.na@complaintflow.example": 2}
    wait_for(
        lambda: {r: len(s) for r, s in delivery.by_recipient(mail.folder).items()} == expected,
        what=lambda: f"exactly {expected}, saw {delivery.by_recipient(mail.folder)}",
    )
    assert not [s for s in customer_mails(mail.folder, to[answers]) if s.startswith("提醒")]


def test_a_resolution_read_before_the_registration_waits_for_it(cf, scenario, mail, worker_factory):
    # Given the notification worker
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    cid = "c1000000-0000-0000-0000-00000000c0d1"
    me = "early.resolved@example.com"
    # When it reads the complaint's resolution before the complaint's registration (its topics
    # arrive in no order relative to each other: a backlog, a replay)
    lifecycle(scenario, cid, f"{cid}-done", status=Status.RESOLVED, corrective_action="已退款")

    def held() -> list[str]:
        with psycopg.connect(cf.db_url()) as conn:
            rows = conn.execute(
                "SELECT source_event_id FROM notification.held_lifecycle WHERE complaint_id = %s",
                (cid,),
            ).fetchall()
        return [r[0] for r in rows]

    assert wait_for(held, what="the resolution held") == [f"{cid}-done"]
    # and then the registration, the routing decision and the deadline
    register(scenario, cid, email=me)
    scenario.routed(cid, "cn-finance-01", Priority.P3)
    scenario.sla(cid, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))
    # Then the customer hears both: the acknowledgement and the resolution, once each
    expected = ["我们已收到您的投诉（受理编号 CF-C0D1-TEST）", "您的投诉 CF-C0D1-TEST 已处理完毕"]
    wait_for(
        lambda: sorted(customer_mails(mail.folder, me)) == sorted(expected),
        what=lambda: f"{expected}, saw {customer_mails(mail.folder, me)}",
    )
    # and nothing is held any more
    assert held() == []


def test_a_breach_with_escalation_reaches_people_on_chat(cf, scenario, mail, worker_factory):
    # Given the worker posting to a chat webhook (make run's local chat catcher) and the
    # shipped roster, whose people have chat handles
    chat = ChatCatcher(mail.handler).start()
    try:
        worker = worker_factory(
            "notification", cf, **scenario.env(CF_NOTIFY_QUIET_HOURS="", **chat.env)
        )  # (quiet hours would hold the assignment's chat: another test)
        wait_ready([worker])
        # When a complaint owned by 李娜 breaches and escalates to the team lead and manager
        c = "c1000000-0000-0000-0000-00000000c4a7"
        deadline = datetime.now(UTC) + timedelta(days=1)
        register(scenario, c, email="chat-case@example.com")
        scenario.routed(c, "cn-finance-01", Priority.P2)

        # Then each of them has the notice on chat as well as by mail, once, in their language
        def on_chat() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for m in read_mail(mail.folder):
                if m.channel == "chat":
                    out.setdefault(m.recipients[0], []).append(m.subject)
            return out

        # (as in life, the breach comes after the registration and the assignment were seen:
        # the two arrive on other topics, which a loaded consumer may read later)
        wait_for(lambda: len(on_chat().get("@li.na", [])) == 1, what="the assignment on chat")
        scenario.sla(c, SlaEventKind.STARTED, deadline)
        scenario.sla(c, SlaEventKind.BREACHED, deadline, late_by_seconds=0.1)
        scenario.sla(c, SlaEventKind.ESCALATED, deadline, level=2, escalated_to="team_lead")
        scenario.sla(c, SlaEventKind.ESCALATED, deadline, level=3,
                     escalated_to="department_manager")  # fmt: skip

        wanted = {"@li.na": 2, "@zhou.ting": 1, "@huang.jianguo": 1}  # assigned, breach; levels
        wait_for(lambda: {h: len(s) for h, s in on_chat().items()} == wanted,
                 what=f"chat posts {wanted}")  # fmt: skip
        got = on_chat()
        assert got["@zhou.ting"][0].startswith("升级") and "CF-C4A7-TEST" in got["@zhou.ting"][0]
        assert all("CF-C4A7-TEST" in s for subjects in got.values() for s in subjects)
        outcomes = scenario.final(2 * 4 + 1)  # four staff notices on two channels, the ack
        chat_sent = [o for o in outcomes if o["channel"] == "chat" and o["outcome"] == "sent"]
        assert len(chat_sent) == len({o["notification_key"] for o in chat_sent}) == 4
        assert all(o["recipient"] in ("cn-finance-01", "lead-cn-finance", "mgr-finance")
                   for o in chat_sent)  # fmt: skip
    finally:
        chat.stop()


def routed_marked(s: Scenario, cid: str, owner: str, **marks: object) -> None:
    """A P3 routing decision carrying routing's marks (sensitive, special periods)."""
    now = datetime.now(UTC)
    s.publish(
        ROUTED,
        cid,
        RoutedComplaint(
            complaint_id=cid,
            version=1,
            category="billing",
            department="finance",
            queue="billing",
            owner=owner,
            priority=Priority.P3,
            sla_policy="standard-P3",
            reasons=["test"],
            occurred_at=now,
            routed_at=now,
            **marks,
        ),
    )


def test_management_hears_of_sensitive_and_special_period_ones_and_staff_chat_keeps_quiet(
    cf, scenario, mail, worker_factory
):
    # Given quiet hours around now in Shanghai (where 李娜 and the finance managers are), chat
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    quiet = f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=2):%H:%M}"
    chat = ChatCatcher(mail.handler).start()
    try:
        worker = worker_factory(
            "notification", cf, **scenario.env(CF_NOTIFY_QUIET_HOURS=quiet, **chat.env)
        )
        wait_ready([worker])
        # When a P3 sensitive complaint and a P3 one in a special period are routed to 李娜,
        # and an ordinary P3 one too
        sensitive, period, plain = (f"c1000000-0000-0000-0000-00000000d00{n}" for n in (1, 2, 3))
        for cid in (sensitive, period, plain):
            register(scenario, cid, email=f"{cid[-4:]}@example.com")
        routed_marked(scenario, sensitive, "cn-finance-01", sensitive=True)
        routed_marked(scenario, period, "cn-finance-01", special_periods=["315"])
        routed_marked(scenario, plain, "cn-finance-01")

        # Then management (the finance manager and the director) hears of the two at once, by
        # mail, saying why, in their language — and of the ordinary one not at all
        def management() -> list[str]:
            people = ("huang.jianguo", "gao.zhiyuan")
            got = by_recipient(mail.folder)
            return sorted(s for p in people for s in got.get(f"{p}@complaintflow.example", []))

        wait_for(lambda: len(management()) == 4, what="four management mails")
        told = management()
        assert sum("CF-D001-TEST" in s and "敏感投诉" in s for s in told) == 2, told
        assert sum("CF-D002-TEST" in s and "特殊时期" in s for s in told) == 2, told
        assert not any("CF-D003-TEST" in s for s in told)
        # and on chat too, at once: management alerts are urgent, quiet hours or not
        wait_for(
            lambda: sum(m.channel == "chat" and "@li.na" not in m.recipients
                        for m in read_mail(mail.folder)) == 4,
            what="management's chat posts",
        )  # fmt: skip
        # while 李娜's assignments went by mail at once, and wait on chat for her quiet hours
        assert len(by_recipient(mail.folder)["li.na@complaintflow.example"]) == 3
        deferred: dict[str, dict[str, object]] = {}

        def three_deferred() -> bool:
            for m in scenario.outcomes.poll():
                o = json.loads(m.value)
                if o["channel"] == "chat" and o["kind"] == "assigned":
                    deferred[o["notification_key"]] = o
            return len(deferred) == 3

        wait_for(three_deferred, what="the assignments' chat copies")
        assert {o["outcome"] for o in deferred.values()} == {"deferred"}
        assert {o["detail"] for o in deferred.values()} == {"quiet hours"}
        end = datetime.fromisoformat(next(iter(deferred.values()))["next_attempt_at"])
        assert end.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == quiet[-5:]
        assert not [m for m in read_mail(mail.folder) if "@li.na" in m.recipients]
    finally:
        chat.stop()


def test_an_assignment_read_before_the_registration_names_the_reference(
    cf, scenario, mail, worker_factory
):
    # Given the notification worker
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    cid = "c1000000-0000-0000-0000-00000000a5d1"
    # When it reads the complaint's routing decision before its registration (their topics
    # arrive in no order relative to each other)
    scenario.routed(cid, "cn-finance-01", Priority.P3)

    def owner() -> str | None:
        with psycopg.connect(cf.db_url()) as conn:
            row = conn.execute(
                "SELECT owner FROM notification.complaints WHERE complaint_id = %s", (cid,)
            ).fetchone()
        return row[0] if row else None

    assert wait_for(owner, what="the routing decision read") == "cn-finance-01"
    # and only then the registration
    register(scenario, cid, email="assigned.late@example.com")
    # Then the owner is told once, by the complaint's reference, not its id
    owner_mail = "li.na@complaintflow.example"
    wait_for(
        lambda: customer_mails(mail.folder, owner_mail),
        what=lambda: f"the assignment, saw {by_recipient(mail.folder)}",
    )
    assert customer_mails(mail.folder, owner_mail) == ["分配给您：CF-A5D1-TEST（P3，finance）"]
