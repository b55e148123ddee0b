"""End to end: raw events through all six worker processes on the real broker and database."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.envelope import complaint_id_for
from services.commands.workers import WORKERS
from services.devstack.mailcatcher import read_mail
from services.kernel.sealing import Sealer
from services.sla_timer.settings import SlaSettings
from tests.conftest import settings_env, wait_for, wait_ready
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e

SLA_SCALE = 1 / 72  # a P3 complaint has 1 h to be resolved: none breaches during the test
OVERDUE = timedelta(minutes=65)
"""How long before submission the open complaint happened: its resolve deadline has passed
when the timer starts, so it breaches however slow the machine is."""
WARNED = timedelta(minutes=40)
"""The same for the later complaint: past its 50 % warning, 20 minutes short of its deadline."""
KERNEL_METRICS = (
    "complaintflow_stage_latency_seconds",
    "complaintflow_consumer_lag",
    "complaintflow_dead_letters_total",
    "complaintflow_events_processed_total",
    "complaintflow_loop_failures_total",
    "complaintflow_ready",
)
"""Served by every worker."""
DESIGN_METRICS = {
    "intake": (
        "complaintflow_complaints_received_total",
        "complaintflow_complaints_rejected_total",
    ),
    "routing": ("complaintflow_complaints_routed_total", "complaintflow_open_complaints"),
    "sla_timer": (
        "complaintflow_sla_warnings_total",
        "complaintflow_sla_breaches_total",
        "complaintflow_sla_escalations_total",
        "complaintflow_sla_timers_active",
        "complaintflow_sla_breach_lag_seconds",
    ),
    "notification": ("complaintflow_notifications_total",),
    "analytics": ("complaintflow_backlog_complaints", "complaintflow_sla_compliance_ratio"),
    "early_warning": ("complaintflow_emerging_issues_total",),
}
"""The design contract's domain metrics, each served by the worker whose work it counts."""


def raw(kind: str, ref: str, event_id: str, **fields: object) -> str:
    doc = {
        "type": kind,
        "source": "e2e-cc",
        "event_id": event_id,
        "complaint_ref": ref,
        "occurred_at": datetime.now(UTC).astimezone().isoformat(),
        "channel": "电话",
        "language": "zh-CN",
        **fields,
    }
    return json.dumps(doc, ensure_ascii=False)


def new_complaint(
    ref: str, event_id: str, category: str, text: str, *, ago: timedelta | None = None
) -> str:
    """A new complaint, made now or `ago` (the SLA clock starts when it was made)."""
    when = {} if ago is None else {"occurred_at": (datetime.now(UTC) - ago).isoformat()}
    return raw(
        "complaint.new",
        ref,
        event_id,
        category=category,
        description=text,
        customer={"name": "王芳", "phone": "+86 139 1234 5678", "email": "wf@example.com"},
        **when,
    )


def submit(cf, lines: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "submit", "-", "--quiet"],
        input="\n".join(lines) + "\n",
        text=True,
        capture_output=True,
        env=settings_env(cf),
        timeout=60,
        check=True,
    )


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in head for k, v in labels.items()) and (
                head == name or head.startswith(name + "{")
            ):
                total += float(value)
    return total


def test_complaints_flow_from_raw_to_archive_with_breach_and_dead_letter(
    cf, worker_factory, mail_catcher
):
    # Given all six workers running with an hour-long P3 SLA, and a mail server
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    workers = {
        name: worker_factory(name, cf, **(mail_catcher.env if name == "notification" else {}))
        for name in WORKERS
    }
    wait_ready(workers.values())
    open_id = complaint_id_for("e2e-cc", "OPEN-1")
    done_id = complaint_id_for("e2e-cc", "DONE-1")
    later_id = complaint_id_for("e2e-cc", "LATER-1")
    malformed = '{"type": "complaint.new", "source": "e2e-cc", '

    # When a billing complaint made over an hour ago (left open), a contract complaint, a
    # duplicate delivery and a malformed line are submitted, then another complaint (made 40
    # minutes ago) after the bad input
    overdue = new_complaint(
        "OPEN-1", "ev-1", "billing", "账单多扣了200元，请回电 13812345678", ago=OVERDUE
    )
    result = submit(
        cf,
        [
            overdue,
            overdue,
            new_complaint("DONE-1", "ev-2", "contract", "合同条款不清楚"),
            malformed,
            new_complaint("LATER-1", "ev-3", "delivery", "包裹没有收到", ago=WARNED),
        ],
    )
    assert "read 5, sent 5, failed 0" in result.stdout

    # Then each complaint is registered once, with CloudEvents headers and no clear PII
    registered = TopicReader(cf, "complaints.registered.v1")
    wait_for(lambda: len(registered.poll()) >= 3, what="3 registered complaints")
    by_id = {json.loads(m.value)["complaint_id"]: m for m in registered.messages}
    assert set(by_id) == {open_id, done_id, later_id}
    first = by_id[open_id]
    assert first.key == open_id.encode()
    for header in ("ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "content-type"):
        assert header in first.headers
    assert first.headers["ce_type"] == b"io.complaintflow.complaint.registered.v1"
    body = first.value.decode()
    assert "13812345678" not in body and "1234 5678" not in body and "wf@example.com" not in body
    assert "王芳" not in body
    assert re.fullmatch(r"CF-[0-9A-Z]{4}-[0-9A-Z]{4}", json.loads(body)["reference"])

    # And the malformed line is a dead letter with its original bytes and a reason
    rejected = TopicReader(cf, "complaints.rejected.v1")
    letters = rejected.wait(lambda m: True)
    assert len(letters) == 1
    letter = json.loads(letters[0].value)
    # raw input may hold customer data: the original is sealed under the dead-letter key
    assert letter["original_sealed"] is True
    sealed = base64.b64decode(letter["original_value_b64"])
    assert malformed.encode() not in sealed
    opener = Sealer(cf.pii_secret(), "dead-letters")
    assert opener.open(sealed).decode() == malformed
    assert letter["reason"] == "invalid_json" and letter["source_topic"] == "complaints.raw.v1"
    assert letter["errors"] and "not JSON" in letter["errors"][0]

    # And routing decides by category
    routed = TopicReader(cf, "complaints.routed.v1")
    wait_for(lambda: len(routed.poll()) >= 3, what="3 routing decisions")
    decisions = {json.loads(m.value)["complaint_id"]: json.loads(m.value) for m in routed.messages}
    assert decisions[open_id]["department"] == "finance"
    assert decisions[open_id]["priority"] == "P3" and decisions[open_id]["reasons"]

    # When the contract complaint is resolved in time
    submit(cf, [raw("complaint.status", "DONE-1", "ev-4", status="resolved")])

    # Then the overdue one breaches (its deadline passed before the timer started), the later
    # one is warned and not breached, the resolved one is met (its deadline is an hour away)
    sla = TopicReader(cf, "complaints.sla.v1")

    def kinds(cid: str) -> set[str]:
        return {
            json.loads(m.value)["kind"]
            for m in sla.poll()
            if json.loads(m.value)["complaint_id"] == cid
            and json.loads(m.value)["target"] == "resolve"
        }

    wait_for(lambda: "breached" in kinds(open_id), timeout=120, what="SLA breach of OPEN-1")
    wait_for(lambda: "met" in kinds(done_id), timeout=120, what="SLA met of DONE-1")
    wait_for(lambda: "warning" in kinds(later_id), timeout=120, what="SLA warning of LATER-1")
    assert "started" in kinds(open_id)
    assert "breached" not in kinds(done_id) and "breached" not in kinds(later_id)
    resolve = {
        event["kind"]: event
        for event in (json.loads(m.value) for m in sla.messages)
        if event["complaint_id"] == open_id and event["target"] == "resolve"
    }
    breach, started = resolve["breached"], resolve["started"]
    # at the deadline the timer started with, never before it; how late is the bench's to say
    assert breach["deadline"] == started["deadline"]
    late = datetime.fromisoformat(breach["emitted_at"]) - datetime.fromisoformat(breach["deadline"])
    assert late.total_seconds() >= 0
    assert abs(breach["late_by_seconds"] - late.total_seconds()) < 0.01

    # And the notification log holds the acknowledgements and the breach notice
    with psycopg.connect(cf.db_url()) as conn:

        def notices() -> set[tuple[str, str]]:
            return set(
                conn.execute("SELECT complaint_id, kind FROM notification.outbox").fetchall()
            )

        # (each worker takes its inputs in its own order: wait for all that is expected)
        wanted = {(open_id, "sla_breach")}
        wanted |= {(open_id, "acknowledgement"), (done_id, "acknowledgement")}
        wait_for(lambda: wanted <= notices(), what="breach notice and acknowledgements")
        ack = conn.execute(
            "SELECT body FROM notification.outbox WHERE complaint_id = %s"
            " AND kind = 'acknowledgement'",
            (open_id,),
        ).fetchone()
        assert ack is not None and json.loads(body)["reference"] in ack[0]

        # And the archive has the current state and the whole history
        def archived() -> tuple | None:
            return conn.execute(
                "SELECT status, department, priority, sla_breached FROM analytics.complaints"
                " WHERE complaint_id = %s",
                (open_id,),
            ).fetchone()

        wait_for(lambda: (archived() or (None,) * 4)[3], what="archived breach of OPEN-1")
        assert archived() == ("registered", "finance", "P3", True)

        def history() -> set[str]:
            return {
                k
                for (k,) in conn.execute(
                    "SELECT kind FROM analytics.events WHERE complaint_id = %s", (open_id,)
                )
            }

        steps = {
            "registered",
            "routed:v1",
            "sla:started:resolve",
            "sla:breached:resolve",
            "notification:acknowledgement:sent",
            "notification:sla_breach:sent",
        }
        wait_for(lambda: steps <= history(), what=f"the archived history {sorted(steps)}")

        def done() -> tuple | None:
            return conn.execute(
                "SELECT status, resolved_at FROM analytics.complaints WHERE complaint_id = %s",
                (done_id,),
            ).fetchone()

        wait_for(lambda: (done() or (None,))[0] == "resolved", what="DONE-1 archived resolved")
        assert done()[1] is not None  # type: ignore[index]

    # And `complaintflow show` prints the timeline from the archive
    shown = subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "show", json.loads(body)["reference"]],
        capture_output=True,
        text=True,
        env=settings_env(cf),
        timeout=30,
        check=True,
    )
    assert "sla:breached:resolve" in shown.stdout and "routed:v1" in shown.stdout
    assert "  category         账单费用 / 帳單費用 / Billing (billing)\n" in shown.stdout

    # And every worker serves the DESIGN metrics, health and readiness, and they moved
    # (counters move once a transaction commits, after its outputs are out: wait for the last)
    wait_for(
        lambda: metric(workers["sla_timer"].metrics(), "complaintflow_sla_warnings_total") >= 1,
        what="the SLA warning counted",
    )
    wait_for(
        lambda: (
            metric(
                workers["early_warning"].metrics(),
                "complaintflow_stage_latency_seconds_count",
                stage="early_warning",
            )
            >= 3
        ),
        what="the three complaints, joined with their routing, seen by early_warning's detector",
    )
    texts = {name: w.metrics() for name, w in workers.items()}
    for name, text in texts.items():
        for metric_name in KERNEL_METRICS + DESIGN_METRICS[name]:
            assert f"# TYPE {metric_name} " in text, f"{metric_name} missing on {name}"
        assert workers[name].status("/healthz") == 200
        assert workers[name].status("/readyz") == 200
        assert metric(text, "complaintflow_ready") == 1
        assert metric(texts[name], "complaintflow_stage_latency_seconds_count", stage=name) > 0
    assert metric(texts["intake"], "complaintflow_complaints_received_total", channel="phone") == 3
    assert (
        metric(texts["intake"], "complaintflow_complaints_rejected_total", reason="invalid_json")
        == 1
    )
    assert metric(texts["intake"], "complaintflow_dead_letters_total", worker="intake") == 1
    assert (
        metric(
            texts["routing"],
            "complaintflow_complaints_routed_total",
            department="finance",
            priority="P3",
        )
        == 1
    )
    assert metric(texts["sla_timer"], "complaintflow_sla_breaches_total", target="resolve") >= 1
    assert metric(texts["sla_timer"], "complaintflow_sla_warnings_total") >= 1
    assert metric(texts["sla_timer"], "complaintflow_sla_breach_lag_seconds_count") >= 1
    wait_for(
        lambda: (
            metric(
                workers["notification"].metrics(),
                "complaintflow_notifications_total",
                kind="acknowledgement",
                outcome="sent",
            )
            == 3
        ),
        what="3 acknowledgements sent",
    )
    # And the customers got them by mail, with their reference
    acks = [m for m in read_mail(mail_catcher.folder) if "我们已收到" in m.subject]
    assert len(acks) == 3 and {m.recipients[0] for m in acks} == {"wf@example.com"}
    assert any(json.loads(body)["reference"] in m.subject for m in acks)
    wait_for(
        lambda: metric(workers["routing"].metrics(), "complaintflow_open_complaints") >= 2,
        what="open complaints gauge",
    )
    for w in workers.values():
        assert w.proc.poll() is None, f"{w.name} stopped: {w.log.read_text()[-2000:]}"
