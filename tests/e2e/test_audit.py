"""End to end: `complaintflow audit` proves a real run's books balance, and names each
imbalance, by complaint, once the books are made not to."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, REGISTERED
from services.audit.report import as_text
from services.audit.run import Report, audit
from services.commands.workers import WORKERS
from services.devstack.mailcatcher import read_mail
from services.kernel.kafka import producer
from services.sla_timer.settings import SlaSettings
from tests.conftest import settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, raw, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e

SLA_SCALE = 8 / (72 * 3600)  # a P3 complaint has 8 s to be resolved


def run_audit(cf, mail_dir) -> Report:
    return audit(cf, as_of=datetime.now(UTC), grace=timedelta(seconds=5), mail_dir=mail_dir)


def balanced_audit(cf, mail_dir, timeout: float = 120) -> Report:
    """The first balanced audit; else fail with the last one's findings."""
    last: list[Report] = []

    def balanced() -> bool:
        last[:] = [run_audit(cf, mail_dir)]
        return last[0].balanced

    try:
        wait_for(balanced, timeout=timeout, what="a balanced audit")
    except pytest.fail.Exception:
        pytest.fail(f"the books never balanced:\n{as_text(last[0])}")
    return last[0]


def problems(report: Report) -> list[tuple[str, str | None, str]]:
    return [(f.check, f.complaint_id, f.problem) for o in report.outcomes for f in o.findings]


def test_audit_balances_a_run_and_names_every_imbalance(cf, worker_factory, mail_catcher):
    # Given all six workers with seconds-long SLAs and a mail server
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    workers = [
        worker_factory(name, cf, **(mail_catcher.env if name == "notification" else {}))
        for name in WORKERS
    ]
    wait_ready(workers)
    late, done, early = (complaint_id_for("e2e-cc", r) for r in ("LATE-1", "DONE-1", "EARLY-1"))

    # When complaints come with duplicates, a follow-up before its complaint, a transfer,
    # malformed and invalid input, and one complaint is left to breach and escalate
    submit(
        cf,
        [
            new_complaint("LATE-1", "ev-1", "billing", "账单多扣了200元"),
            new_complaint("DONE-1", "ev-2", "contract", "合同条款不清楚"),
            new_complaint("DONE-1", "ev-2", "contract", "合同条款不清楚"),
            raw("complaint.contact", "EARLY-1", "ev-3", note="我又打来了"),
            new_complaint("EARLY-1", "ev-4", "delivery", "包裹没有收到"),
            raw("complaint.transfer", "DONE-1", "ev-5", agent="a7", queue="card_disputes"),
            raw("complaint.transfer", "LATE-1", "ev-14", agent="a7", department="legal"),
            '{"type": "complaint.new", "source": "e2e-cc", ',
            raw("complaint.unknown", "DONE-1", "ev-6"),
            raw("complaint.status", "DONE-1", "ev-7", status="resolved"),
            raw("survey.answered", "DONE-1", "ev-8", score=5),
            raw("complaint.status", "EARLY-1", "ev-9", status="resolved"),
            raw("survey.answered", "EARLY-1", "ev-10", score=4),
        ],
    )
    sla = TopicReader(cf, "complaints.sla.v1")
    wait_for(
        lambda: any(
            json.loads(m.value)["complaint_id"] == late
            and json.loads(m.value)["kind"] == "escalated"
            for m in sla.poll()
        ),
        timeout=90,
        what="LATE-1 breached and escalated",
    )
    submit(
        cf,
        [
            raw("complaint.status", "LATE-1", "ev-11", status="resolved"),
            raw("survey.answered", "LATE-1", "ev-12", score=2),
        ],
    )

    # Then, once every worker has caught up, the books balance
    report = balanced_audit(cf, mail_catcher.folder)
    assert isinstance(report, Report)
    checked = {o.check: o.checked for o in report.outcomes}
    assert checked["raw events"] == 15 and checked["dead letters"] == 3
    assert checked["routing"] == 3 and checked["sla"] > 0 and checked["notifications"] > 3
    assert checked["archive"] > 20
    assert not any(o.skipped for o in report.outcomes)

    # When the workers stop, and then a mail is delivered twice, the archive loses a change,
    # a clock misses its step, an event is applied twice and one is never processed
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        w.proc.wait(timeout=60)
    sent_ack = next(m for m in read_mail(mail_catcher.folder) if "我们已收到" in m.subject)
    shutil.copy(sent_ack.path, sent_ack.path.with_name("zz-copy.eml"))
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:
        conn.execute(
            "UPDATE analytics.complaints SET status = 'in_progress' WHERE complaint_id = %s",
            (done,),
        )
        conn.execute(
            "UPDATE sla_timer.timers SET next_due = now() - interval '1 hour'"
            " WHERE complaint_id = %s AND target = 'resolve'",
            (late,),
        )
    registered = TopicReader(cf, "complaints.registered.v1")
    copy = next(m for m in registered.read_to_end() if m.key == early.encode())
    headers = [
        (k, b"replayed-under-another-id" if k == "ce_id" else v) for k, v in copy.headers.items()
    ]
    lost = new_complaint("LOST-1", "ev-13", "billing", "没人处理")
    sender = producer(cf, client_id="test-audit")
    sender.send(cf.topic(REGISTERED.name), key=copy.key, value=copy.value, headers=headers)
    sender.send(cf.topic(RAW.name), key=b"e2e-cc:LOST-1", value=lost.encode())
    sender.flush()
    sender.close()

    # Then the audit names each, by complaint, and nothing else
    found = problems(run_audit(cf, mail_catcher.folder))
    lost_id = complaint_id_for("e2e-cc", "LOST-1")
    expected = {
        ("drained", None, "intake has not finished 1 record(s) of complaints.raw.v1"),
        ("raw events", lost_id, "event e2e-cc/ev-13: neither applied nor dead-lettered: lost"),
        ("raw events", early, "event e2e-cc/ev-4 applied 2 times"),
        ("archive", done, "complaints " + done + ": differs from the topics in status"),
    }
    assert expected <= set(found), found
    assert any(
        c == "sla" and cid == late and p.startswith("resolve: a step due at") for c, cid, p in found
    ), found
    assert any(
        c == "notifications" and "got it 2 times" in p and p.startswith("acknowledgement")
        for c, _, p in found
    ), found
    assert any(c == "drained" and "analytics has not finished 1" in p for c, _, p in found)

    # And the command says so: exit status 1, JSON for tools, text by complaint without PII
    env = settings_env(cf)
    cmd = [sys.executable, "-m", "services.commands.cli", "audit", "--quiet"]
    cmd += ["--mail-dir", str(mail_catcher.folder)]
    as_json = subprocess.run(
        [*cmd, "--format", "json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert as_json.returncode == 1, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["balanced"] is False
    assert {(f["check"], f["complaint_id"], f["problem"]) for f in doc["findings"]} == set(found)
    assert next(f for f in doc["findings"] if f["complaint_id"] == done)["reference"]
    text = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 1
    assert f"complaint {early}" in text.stdout and "The books do not balance" in text.stdout
    for pii in ("王芳", "139 1234 5678", "wf@example.com"):
        assert pii not in text.stdout and pii not in as_json.stdout
