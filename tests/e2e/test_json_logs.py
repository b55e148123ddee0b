"""CF_LOG_FORMAT=json: worker processes log one JSON object a line, naming the record they
were handling, and never the customer data in it — the early-warning worker too, whose faust
runtime would otherwise log in a form of its own."""

from __future__ import annotations

import json
import signal

import pytest
from kafka import KafkaAdminClient

from schemas.envelope import complaint_id_for
from tests.conftest import WorkerProcess, wait_for, wait_ready
from tests.e2e.test_pipeline import raw, submit
from tests.kafka_helpers import TopicReader, committed_all

pytestmark = pytest.mark.e2e
NAME, PHONE, EMAIL, NATIONAL_ID = (
    "欧阳娜娜",
    "+86 137 0246 8135",
    "nana.oy@example.cn",
    "11010519491231002X",
)
PLANTED = (NAME, PHONE, "02468135", EMAIL, NATIONAL_ID)
"""Customer data planted in the events; none of it may reach a log line."""
FIELDS = {"time", "level", "worker", "logger", "message"}


def customer(**overrides: str) -> dict[str, str]:
    return {"name": NAME, "phone": PHONE, "email": EMAIL, "national_id": NATIONAL_ID, **overrides}


def json_lines(worker: WorkerProcess) -> list[dict[str, object]]:
    out = []
    for line in worker.log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{worker.name} logged a line that is not JSON: {line!r}")
    return out


def test_json_logs_name_the_record_and_hold_no_customer_data(cf, worker_factory):
    workers = [
        worker_factory(name, cf, CF_LOG_FORMAT="json")
        for name in ("intake", "routing", "early_warning")
    ]
    wait_ready(workers)
    good, bad = complaint_id_for("e2e-cc", "LOG-1"), complaint_id_for("e2e-cc", "LOG-2")

    # Given a complaint full of customer data, one refused for a malformed customer field
    # that echoes it, a follow-up quoting it, and one refused for a missing field
    submit(
        cf,
        [
            raw(
                "complaint.new",
                "LOG-1",
                "ev-l1",
                customer=customer(),
                category="billing",
                description=f"我是{NAME}，电话 {PHONE}，邮箱 {EMAIL}，身份证 {NATIONAL_ID}",
            ),
            raw(
                "complaint.new",
                "LOG-2",
                "ev-l2",
                customer=customer(phone=PHONE * 4),
                category="billing",
                description=f"{NAME} {PHONE}",
            ),
            raw("complaint.contact", "LOG-1", "ev-l3", note=f"{NAME} 再次来电 {PHONE}"),
            raw("complaint.new", "LOG-3", "ev-l4", customer={"name": NAME, "email": EMAIL}),
        ],
    )

    # When the workers have handled everything and stopped
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    raw_topic = TopicReader(cf, "complaints.raw.v1")
    registered = TopicReader(cf, "complaints.registered.v1")
    routed = TopicReader(cf, "complaints.routed.v1")
    wait_for(lambda: committed_all(admin, cf.group("intake"), raw_topic), what="raw taken in")
    wait_for(lambda: committed_all(admin, cf.group("routing"), registered), what="routed")
    early_warning = cf.group("early_warning")  # faust's group: the app's id
    wait_for(
        lambda: all(committed_all(admin, early_warning, r) for r in (registered, routed)),
        what="registered and routed taken in by early_warning",
    )
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(timeout=60) == 0
    admin.close()
    for reader in (raw_topic, registered, routed):
        reader.close()

    # Then every line of every log is a JSON object with the pipeline's fields
    logs = {w.name: json_lines(w) for w in workers}
    for name, lines in logs.items():
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert set(line) >= FIELDS, line
            assert line["worker"] == name
        assert any(line["message"] == f"{name} stopped" for line in lines)

    # And faust's own lines in the early-warning worker's log are among them, at INFO too
    faust_levels = {line["level"] for line in logs["early_warning"] if _of_faust(line)}
    assert "INFO" in faust_levels, faust_levels

    # And the refusals name the record they are about: complaint, topic, partition, offset
    refused = [line for line in logs["intake"] if "dead-lettered" in str(line["message"])]
    assert {line["complaint_id"] for line in refused} == {bad, complaint_id_for("e2e-cc", "LOG-3")}
    for line in refused:
        assert line["topic"] == cf.topic("complaints.raw.v1") and line["level"] == "WARNING"
        assert isinstance(line["partition"], int) and isinstance(line["offset"], int)
    assert good != bad

    # And no planted customer data is anywhere in them
    for w in workers:
        text = w.log.read_text(encoding="utf-8")
        for value in PLANTED:
            for form in (value, json.dumps(value)[1:-1]):  # as is, or \u-escaped
                assert form not in text, f"{w.name} logged {form!r}"


def _of_faust(line: dict[str, object]) -> bool:
    return str(line["logger"]).split(".")[0] in ("faust", "mode", "aiokafka")
