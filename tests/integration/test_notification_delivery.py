"""Notification through the real broker, database and a real local SMTP server: who is told
what, in which language, once; retries, permanent failures, a kill -9 mid-send, history."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer

from schemas.common import Channel, Language, Priority
from schemas.envelope import CloudEvent, encode
from schemas.registered import RegisteredComplaint
from schemas.registry import REGISTERED, ROUTED, SLA, TopicSpec
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.devstack.mailcatcher import Catcher, MailCatcher, read_mail
from services.intake.migrations import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.pii import Vault
from services.kernel.db import migrate
from tests.conftest import wait_for, wait_ready
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration


class FlakyCatcher(Catcher):
    """The catcher, with faults on chosen recipients: refused for good, refused for a while,
    or held after the mail is kept (the sender waits for an answer that never comes)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.refuse: dict[str, str] = {}
        self.busy: Counter[str] = Counter()
        self.hold: set[str] = set()
        self._released = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        """Let every held answer go (called from the test's thread)."""
        self.hold.clear()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        if self.busy[address] > 0:
            self.busy[address] -= 1
            return "451 4.3.0 try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self._loop = asyncio.get_running_loop()
        answer = await super().handle_DATA(server, session, envelope)
        if set(envelope.rcpt_tos) & self.hold:
            await self._released.wait()
        return answer


@pytest.fixture
def mail(tmp_path: Path):
    catcher = MailCatcher(tmp_path / "mail", handler=FlakyCatcher(tmp_path / "mail")).start()
    yield catcher
    catcher.handler.release()
    catcher.stop()


class Scenario:
    """Events as upstream workers would publish them, and what came of them."""

    def __init__(self, cf, mail: MailCatcher) -> None:
        self.cf, self.mail = cf, mail
        self.producer = KafkaProducer(**cf.kafka("notify-test").as_dict(), acks="all")
        self.outcomes = TopicReader(cf, "complaints.notifications.v1")
        self.seq = 0
        with psycopg.connect(cf.db_url()) as conn:
            migrate(conn, "intake", INTAKE_MIGRATIONS)
        self.vault = Vault(cf.pii_secret())

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "CF_SMTP_HOST": self.mail.host,
            "CF_SMTP_PORT": str(self.mail.port),
            "CF_NOTIFY_RETRY_BASE_SECONDS": "0.3",
            "CF_NOTIFY_LEASE_SECONDS": "3",
            **extra,
        }

    def publish(self, spec: TopicSpec, key: str, model: Any) -> None:
        self.seq += 1
        ce = CloudEvent(
            id=f"test-{key}-{self.seq}", type=spec.ce_type, source="/test", time=datetime.now(UTC)
        )
        self.producer.send(
            self.cf.topic(spec.name), key=key.encode(), value=encode(model), headers=ce.headers()
        ).get(timeout=30)

    def customer(self, cid: str, email: str | None, *, language: Language, ago=timedelta(0),
                 description: str = "话费多扣了200元",
                 phone: str | None = None) -> str:  # fmt: skip
        token = f"tok-{cid}"
        with psycopg.connect(self.cf.db_url()) as conn:
            conn.execute(
                "INSERT INTO intake.contacts (complaint_id, customer_token, sealed, sealed_at)"
                " VALUES (%s, %s, %s, now())",
                (cid, token, self.vault.seal({"name": "王芳", "phone": phone, "email": email})),
            )
        now = datetime.now(UTC)
        self.publish(
            REGISTERED,
            cid,
            RegisteredComplaint(
                complaint_id=cid,
                reference=f"CF-{cid[-4:].upper()}-TEST",
                source="test-cc",
                external_ref=cid,
                source_event_id=f"ev-{cid}",
                occurred_at=now - ago,
                source_utc_offset="+08:00",
                registered_at=now,
                channel=Channel.PHONE,
                language=language,
                category="billing",
                description=description,
                customer_token=token,
                contact_masked="139****5678" if phone else None,
                time_zone="Asia/Shanghai",
            ),
        )
        return token

    def routed(self, cid: str, owner: str | None, priority: Priority, version: int = 1,
               department: str = "finance") -> None:  # fmt: skip
        now = datetime.now(UTC)
        self.publish(
            ROUTED,
            cid,
            RoutedComplaint(
                complaint_id=cid,
                version=version,
                category="billing",
                department=department,
                queue="billing",
                owner=owner,
                priority=priority,
                sla_policy=f"standard-{priority.value}",
                reasons=["test"],
                occurred_at=now,
                routed_at=now,
            ),
        )

    def sla(self, cid: str, kind: SlaEventKind, deadline: datetime, **fields: Any) -> None:
        self.publish(
            SLA,
            cid,
            SlaEvent(
                complaint_id=cid,
                kind=kind,
                target=SlaTarget(fields.pop("target", "resolve")),
                policy="standard-P2",
                priority=fields.pop("priority", Priority.P2),
                department="finance",
                deadline=deadline,
                emitted_at=datetime.now(UTC),
                **fields,
            ),
        )

    def final(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """The outcomes, once `count` notices have each reached a final outcome."""
        finals = {"sent", "dead", "unknown", "skipped"}

        def done() -> list[dict[str, Any]] | None:
            seen = [json.loads(m.value) for m in self.outcomes.poll()]
            ended = [o for o in seen if o["outcome"] in finals]
            return seen if len(ended) >= count else None

        return wait_for(done, timeout=timeout, what=f"{count} final outcomes")  # type: ignore[return-value]

    def close(self) -> None:
        self.producer.close()
        self.outcomes.close()


@pytest.fixture
def scenario(cf, mail):
    s = Scenario(cf, mail)
    yield s
    s.close()


def by_recipient(folder: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in read_mail(folder):
        for r in m.recipients:
            out.setdefault(r, []).append(m.subject)
    return out


def test_a_complaint_life_tells_exactly_the_right_people_once(cf, scenario, mail, worker_factory):
    # Given the notification worker with a real mail server
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    deadline = datetime.now(UTC) + timedelta(days=5)
    # When a P2 complaint lives: registered, routed to 李娜, its SLA warned, breached, escalated
    a = "c0000000-0000-0000-0000-00000000aaaa"
    scenario.customer(a, "wangfang@example.com", language=Language.ZH_HANS,
                      description="账单 {{ 7*7 }} <script>x</script>")  # fmt: skip
    scenario.routed(a, "cn-finance-01", Priority.P2)
    scenario.sla(a, SlaEventKind.STARTED, deadline)
    scenario.sla(a, SlaEventKind.WARNING, deadline, threshold_pct=50)
    scenario.sla(a, SlaEventKind.BREACHED, deadline, late_by_seconds=0.2)
    scenario.sla(a, SlaEventKind.BREACHED, deadline, late_by_seconds=0.2)  # replayed
    scenario.sla(a, SlaEventKind.ESCALATED, deadline, level=2, escalated_to="team_lead")
    scenario.sla(a, SlaEventKind.ESCALATED, deadline, level=3, escalated_to="department_manager")
    # and a P1 complaint from an English-speaking customer
    b = "c0000000-0000-0000-0000-00000000bbbb"
    scenario.customer(b, "pat@example.com", language=Language.EN)
    scenario.routed(b, "en-finance-01", Priority.P1)
    scenario.sla(b, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(hours=4),
                 priority=Priority.P1)  # fmt: skip

    # Then each person got their mails, in their language, none twice
    outcomes = scenario.final(10)
    sent = [o for o in outcomes if o["outcome"] == "sent"]
    assert len(sent) == 10, Counter((o["outcome"], o.get("detail")) for o in outcomes)
    assert len({o["notification_key"] for o in sent}) == 10
    mails = read_mail(mail.folder)
    assert len(mails) == 10
    assert len({m.message["Message-ID"] for m in mails}) == 10
    got = by_recipient(mail.folder)
    assert sorted((r, len(s)) for r, s in got.items()) == [
        ("daniel.lee@complaintflow.example", 1),  # assigned
        ("gao.zhiyuan@complaintflow.example", 1),  # director: P1 at once
        ("huang.jianguo@complaintflow.example", 2),  # manager: P1 at once, level 3 for A
        ("li.na@complaintflow.example", 3),  # assigned, warning, breach
        ("pat@example.com", 1),
        ("wangfang@example.com", 1),
        ("zhou.ting@complaintflow.example", 1),  # team lead, level 2
    ]
    ack_zh = next(m for m in mails if "wangfang@example.com" in m.recipients)
    assert ack_zh.subject == "我们已收到您的投诉（受理编号 CF-AAAA-TEST）"
    assert "个工作日内，即" in ack_zh.part("plain")
    assert "账单 {{ 7*7 }} <script>x</script>" in ack_zh.part("plain")
    assert "&lt;script&gt;x&lt;/script&gt;" in ack_zh.part("html")
    ack_en = next(m for m in mails if "pat@example.com" in m.recipients)
    assert "CF-BBBB-TEST" in ack_en.subject
    assert "within 4 hours, by" in ack_en.part("plain")
    assert all(
        s.startswith(("升级", "请管理层")) for s in got["huang.jianguo@complaintflow.example"]
    )
    # (counters move once the transaction has committed, just after the outcomes are out)
    sent = 'complaintflow_notifications_total{channel="email",kind="sla_breach",outcome="sent"} 1.0'
    wait_for(lambda: sent in worker.metrics(), what="the breach mail counted")
    # and no contact data went on the topic
    assert not any("@" in json.dumps(o) for o in outcomes)


def test_a_provider_failing_twice_then_succeeding(cf, scenario, mail, worker_factory):
    mail.handler.busy["retry@example.com"] = 2
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    c = "c0000000-0000-0000-0000-00000000cccc"
    scenario.customer(c, "retry@example.com", language=Language.EN)
    scenario.sla(c, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))

    outcomes = scenario.final(1)
    assert [(o["outcome"], o["attempts"]) for o in outcomes] == [
        ("queued", 0),
        ("retrying", 1),
        ("retrying", 2),
        ("sent", 3),
    ]
    assert outcomes[1]["detail"].startswith("451") and outcomes[1]["next_attempt_at"]
    assert list(by_recipient(mail.folder)) == ["retry@example.com"]
    assert len(read_mail(mail.folder)) == 1


def test_a_permanent_failure_is_dead_with_the_provider_s_answer(cf, scenario, mail, worker_factory):
    mail.handler.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: no such mailbox"
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    c = "c0000000-0000-0000-0000-00000000dddd"
    scenario.customer(c, "gone@example.com", language=Language.ZH_HANT)
    e = "c0000000-0000-0000-0000-00000000eeee"
    scenario.customer(e, None, language=Language.EN)  # gave a phone number only
    for cid in (c, e):
        scenario.sla(cid, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))

    outcomes = {(o["complaint_id"], o["outcome"]): o for o in scenario.final(2)}
    assert outcomes[(c, "dead")]["detail"] == "550 5.1.1 <<address>>: no such mailbox"
    assert outcomes[(c, "dead")]["attempts"] == 1
    assert outcomes[(e, "dead")]["detail"] == "the customer gave no email address"
    assert read_mail(mail.folder) == []
    wait_for(lambda: 'outcome="dead"} 2.0' in worker.metrics(), what="both dead notices counted")


def test_a_worker_killed_between_send_and_record_sends_nothing_twice(
    cf, scenario, mail, worker_factory
):
    # Given a mail server that keeps the mail but has not answered yet
    mail.handler.hold.add("once@example.com")
    first = worker_factory("notification", cf, **scenario.env())
    wait_ready([first])
    k = "c0000000-0000-0000-0000-00000000ffff"
    scenario.customer(k, "once@example.com", language=Language.EN)
    scenario.sla(k, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))
    wait_for(lambda: read_mail(mail.folder), what="the mail kept by the server")
    # When the worker is killed -9 before it records the answer, then started again
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    mail.handler.release()
    second = worker_factory("notification", cf, **scenario.env())
    wait_ready([second])
    # and a later complaint goes out normally
    later = "c0000000-0000-0000-0000-0000000f0f0f"
    scenario.customer(later, "later@example.com", language=Language.EN)
    scenario.sla(later, SlaEventKind.STARTED, datetime.now(UTC) + timedelta(days=3))

    # Then the interrupted one is unknown, never sent again; the later one is sent
    outcomes = scenario.final(2)
    finals = {o["complaint_id"]: o for o in outcomes if o["outcome"] != "queued"}
    assert finals[k]["outcome"] == "unknown"
    assert finals[later]["outcome"] == "sent"
    assert by_recipient(mail.folder) == {
        "once@example.com": [read_mail(mail.folder)[0].subject],
        "later@example.com": [read_mail(mail.folder)[1].subject],
    }


def test_history_is_recorded_not_sent(cf, scenario, mail, worker_factory):
    worker = worker_factory("notification", cf, **scenario.env())
    wait_ready([worker])
    old = "c0000000-0000-0000-0000-000000000001"
    scenario.customer(old, "old@example.com", language=Language.EN, ago=timedelta(days=270))
    scenario.routed(old, "cn-finance-01", Priority.P1)
    long_ago = datetime.now(UTC) - timedelta(days=260)
    scenario.sla(old, SlaEventKind.STARTED, long_ago)
    scenario.sla(old, SlaEventKind.BREACHED, long_ago, late_by_seconds=3600 * 24 * 260.0)
    scenario.sla(old, SlaEventKind.ESCALATED, long_ago, level=5, escalated_to="executive")

    # ack, assigned, 2 management, breach, escalation: all recorded as skipped
    outcomes = scenario.final(6)
    assert {o["outcome"] for o in outcomes} == {"skipped"}
    assert len(outcomes) == 6
    assert read_mail(mail.folder) == []
    skipped = 'kind="acknowledgement",outcome="skipped_historical"} 1.0'
    wait_for(lambda: skipped in worker.metrics(), what="the skipped acknowledgement counted")
