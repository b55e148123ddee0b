"""Intake's three ways in (Kafka client, HTTP, bulk import), out-of-order follow-ups, and
confidentiality: planted PII must not appear on any downstream topic or in any log."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import psycopg
import pytest

from schemas.envelope import complaint_id_for
from services.devstack.ports import free_port
from services.intake.app import vault_lookup
from services.intake.identity import reference_for
from services.intake.validate import MAX_EVENT_BYTES
from services.sdk.client import ComplaintFlowClient
from services.sla_timer.settings import SlaSettings
from tests.conftest import settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import WORKERS, new_complaint, raw, submit
from tests.kafka_helpers import TopicReader
from tests.unit.intake.test_importers import COLUMNS_16, COLUMNS_18, row18

pytestmark = pytest.mark.e2e
KEY = "sh-cc-key-0001"


def post(port: int, path: str, body: object, key: str | None = KEY) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    if key:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def event(ref: str, event_id: str, **over: object) -> dict:
    doc = json.loads(new_complaint(ref, event_id, "billing", "账单错误"))
    doc["source"] = "sh-cc"
    doc.update(over)
    return doc


def test_http_api_accepts_refuses_and_deduplicates(cf, worker_factory):
    port = free_port()
    intake = worker_factory(
        "intake",
        cf,
        CF_INTAKE_HTTP_PORT=str(port),
        CF_INTAKE_API_KEYS=f"sh-cc={KEY},*=any-source-key-1",
    )
    wait_ready([intake])
    registered = TopicReader(cf, "complaints.registered.v1")

    # A valid event: 202 with the complaint id and reference, and it is on Kafka already
    status, body = post(port, "/v1/events", event("H-1", "h1"))
    cid = complaint_id_for("sh-cc", "H-1")
    assert status == 202 and body == {
        "event_id": "h1",
        "complaint_id": cid,
        "reference": reference_for(cid),
    }
    raw_topic = TopicReader(cf, "complaints.raw.v1")
    assert raw_topic.read_to_end(), "the event was acknowledged before it reached Kafka"

    # The client retries the same event: still one complaint downstream
    assert post(port, "/v1/events", event("H-1", "h1"))[0] == 202

    # Refusals name what is wrong
    status, body = post(port, "/v1/events", event("H-2", "h2", description="", channel="pigeon"))
    assert status == 422 and body["error"] == "validation"
    assert any("description" in e for e in body["errors"])
    assert post(port, "/v1/events", b'{"type": ')[0] == 400
    assert post(port, "/v1/events", event("H-3", "h3"), key=None)[0] == 401
    assert post(port, "/v1/events", event("H-3", "h3"), key="wrong-key-123")[0] == 401
    status, body = post(port, "/v1/events", event("H-4", "h4", source="tp-cc"))
    assert status == 403 and "tp-cc" in body["errors"][0]
    assert post(port, "/v1/events", b"{" + b" " * MAX_EVENT_BYTES + b"}")[0] == 413
    assert post(port, "/v1/nowhere", event("H-5", "h5"))[0] == 404

    # A batch with one bad event is refused whole, naming the index
    status, body = post(
        port, "/v1/events:batch", [event("B-1", "b1"), event("B-2", "b2", occurred_at="yesterday")]
    )
    assert status == 422 and [r["index"] for r in body["refused"]] == [1]
    # A good batch is accepted whole (a wildcard key may send for any source)
    status, body = post(
        port,
        "/v1/events:batch",
        {"events": [event("B-1", "b1"), event("T-1", "t1", source="tp-cc")]},
        key="any-source-key-1",
    )
    assert status == 202 and [a["event_id"] for a in body["accepted"]] == ["b1", "t1"]

    wait_for(lambda: len(registered.poll()) >= 3, what="3 registrations")
    ids = sorted(json.loads(m.value)["complaint_id"] for m in registered.poll())
    assert ids == sorted([cid, complaint_id_for("sh-cc", "B-1"), complaint_id_for("tp-cc", "T-1")])


def test_client_submits_and_validates_before_sending(cf, worker_factory):
    wait_ready([worker_factory("intake", cf)])
    with ComplaintFlowClient(cf.kafka_bootstrap_servers, topic_prefix=cf.topic_prefix) as client:
        sent = client.submit(json.loads(new_complaint("C-1", "c1", "billing", "账单")))
        with pytest.raises(ValueError, match="description"):
            client.submit(json.loads(new_complaint("C-2", "c2", "billing", "")))
    assert sent.complaint_id == complaint_id_for("e2e-cc", "C-1")
    assert sent.reference == reference_for(sent.complaint_id)
    registered = TopicReader(cf, "complaints.registered.v1")
    found = registered.wait(lambda m: json.loads(m.value)["complaint_id"] == sent.complaint_id)
    assert json.loads(found[0].value)["reference"] == sent.reference


def write_cfpb(path, columns, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            values = dict(zip(COLUMNS_18, row, strict=True))
            writer.writerow([values[c] for c in columns])


def run_import(cf, path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.commands.cli",
            "import",
            str(path),
            "--format",
            "cfpb",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=settings_env(cf),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cfpb_import_is_resumable_and_never_duplicates(cf, worker_factory, tmp_path):
    wait_ready([worker_factory("intake", cf)])
    export = tmp_path / "complaints.csv"
    rows = [row18(**{"Complaint ID": str(9000 + i)}) for i in range(30)]
    rows.append(row18(**{"Complaint ID": "9999", "Date received": "someday"}))
    write_cfpb(export, COLUMNS_18, rows)

    first = run_import(cf, export)
    # 30 new + 31 closures accepted (the bad row's closure waits for a complaint that never comes)
    assert "rows read 31" in first and "accepted 61" in first
    assert "rejected 1 × validation" in first

    second = run_import(cf, export)
    assert "skipped as already imported: 31" in second and "events 0" in second

    newer = tmp_path / "newer.csv"  # the same complaints in the 16-column variant
    write_cfpb(newer, COLUMNS_16, rows[:10])
    assert "accepted 20" in run_import(cf, newer)

    registered = TopicReader(cf, "complaints.registered.v1")
    wait_for(lambda: len(registered.poll()) >= 30, what="30 registrations")
    rejected = TopicReader(cf, "complaints.rejected.v1")
    wait_for(lambda: rejected.poll(), what="the dead letter of the bad row")
    assert len({json.loads(m.value)["complaint_id"] for m in registered.poll()}) == 30
    assert len(registered.poll()) == 30


def test_follow_up_before_its_complaint_is_held_then_applied_or_dead_lettered(cf, worker_factory):
    wait_ready([worker_factory("intake", cf, CF_INTAKE_ORPHAN_GRACE_SECONDS="10")])
    lifecycle = TopicReader(cf, "complaints.lifecycle.v1")
    rejected = TopicReader(cf, "complaints.rejected.v1")
    # Given a status change that arrives before the complaint it belongs to (sent together,
    # so the complaint follows well within the grace period however busy the machine is)
    submit(
        cf,
        [
            raw("complaint.status", "EARLY-1", "s1", status="in_progress"),
            raw("complaint.status", "NEVER-1", "s2", status="in_progress"),
            new_complaint("EARLY-1", "n1", "billing", "账单"),
        ],
    )
    # Then it is applied once the complaint registers
    applied = lifecycle.wait(lambda m: True)
    assert applied, "the held status change was not applied"
    assert json.loads(applied[0].value)["complaint_id"] == complaint_id_for("e2e-cc", "EARLY-1")
    # And the one whose complaint never comes is dead-lettered after the grace period
    letters = rejected.wait(lambda m: True, timeout=60)
    assert letters, "no dead letter for the follow-up whose complaint never came"
    letter = json.loads(letters[0].value)
    assert letter["reason"] == "orphan_event" and "NEVER-1" not in json.dumps(letter["errors"])
    assert letter["source_event_id"] == "e2e-cc:s2"


PII = {
    "name": "欧阳娜娜",
    "phone": "+86 139 8765 4321",
    "email": "nana.ouyang@example.cn",
    "national_id": "110105199001011234",
}
TEXT_PII = ("13987654321", "nana.ouyang@example.cn", "4111 1111 1111 1111", "110105199001011234")
DOWNSTREAM = (
    "complaints.registered.v1",
    "complaints.lifecycle.v1",
    "complaints.routed.v1",
    "complaints.sla.v1",
    "complaints.notifications.v1",
    "complaints.rejected.v1",
    "complaints.stats.v1",
    "complaints.alerts.v1",
)


def test_planted_pii_never_leaves_intake_in_clear(cf, worker_factory):
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": 2 / (72 * 3600)})
    workers = [worker_factory(name, cf) for name in WORKERS]
    wait_ready(workers)
    doc = json.loads(new_complaint("PII-1", "p1", "billing", "x"))
    doc["customer"] = PII
    doc["description"] = (
        "我是欧阳娜娜以外的人？电话13987654321，邮箱 nana.ouyang@example.cn，"
        "卡号 4111 1111 1111 1111，身份证 110105199001011234"
    )
    doc["subject"] = "call 13987654321"
    doc["product"] = "宽带 nana.ouyang＠example.cn"
    doc["sub_category"] = "欧阳娜娜 13987654321"
    doc["customer"] = {**PII, "region": "欧阳娜娜家"}
    contact = raw("complaint.contact", "PII-1", "p2", note="欧阳 娜娜又打了 13987654321 没人接")
    transfer = raw(
        "complaint.transfer", "PII-1", "p3", agent="a1", department=PII["email"], owner="欧阳娜娜"
    )
    survey = raw("survey.answered", "PII-1", "p4", score=1, comment="欧阳娜娜: +86 139 8765 4321")
    refused = raw("complaint.contact", "PII-2", "p5", note="x", channel=PII["email"])
    broken = json.dumps(doc, ensure_ascii=False)[:-5]  # malformed, still full of PII
    lines = [json.dumps(doc, ensure_ascii=False), contact, transfer, survey, refused, broken]
    submit(cf, lines)

    cid = complaint_id_for("e2e-cc", "PII-1")
    readers = {topic: TopicReader(cf, topic) for topic in DOWNSTREAM}

    def found(topic: str, predicate: Callable[[dict], bool] = lambda doc: True) -> bool:
        return any(predicate(json.loads(m.value)) for m in readers[topic].poll())

    # Every stage has had the complaint: its breach, the notices, the dead letter, and
    # analytics' figures once they count the breach (published within 5 s of archiving it)
    wait_for(lambda: found("complaints.sla.v1", lambda d: d["kind"] == "breached"), what="breach")
    wait_for(lambda: found("complaints.notifications.v1"), what="notices")
    wait_for(lambda: found("complaints.rejected.v1"), what="dead letter")
    wait_for(
        lambda: found("complaints.stats.v1", lambda d: d["breached"] >= 1),
        what="figures counting the breach",
    )

    secrets = [PII["name"], "欧阳 娜娜", PII["email"], PII["national_id"], "8765 4321", *TEXT_PII]
    secrets.append("nana.ouyang＠example.cn")
    for topic, reader in readers.items():
        for m in reader.read_to_end():
            text = m.value.decode() + json.dumps({k: v.decode() for k, v in m.headers.items()})
            for secret in secrets:
                assert secret not in text, f"{secret!r} in clear on {topic}"
        reader.close()
    for w in workers:
        log = w.log.read_text(encoding="utf-8", errors="replace")
        for secret in secrets:
            assert secret not in log, f"{secret!r} in the {w.name} log"
        scraped = w.metrics()
        for line in scraped.splitlines():
            assert cid not in line and "cus_" not in line
        for secret in secrets:
            assert secret not in scraped, f"{secret!r} in the {w.name} metrics"
    # The clear contact data is kept only sealed, one row per complaint, for notification.
    with psycopg.connect(cf.db_url()) as conn:
        token, sealed = conn.execute(
            "SELECT customer_token, sealed FROM intake.contacts WHERE complaint_id = %s", (cid,)
        ).fetchone()
        for secret in (PII["name"], PII["email"], PII["national_id"], PII["phone"]):
            assert secret.encode() not in bytes(sealed)
        assert vault_lookup(conn, cf.pii_secret(), token) == {
            k: PII.get(k) for k in ("name", "phone", "email", "national_id")
        }
