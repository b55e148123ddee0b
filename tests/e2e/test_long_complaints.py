"""A long complaint is not bad input: 60,000 characters of Chinese and English come in through
Kafka, HTTP and a CSV export, are registered, routed and archived whole, and no message on
any topic grows past Kafka's limit. Megabytes are refused, each with a specific reason."""

from __future__ import annotations

import json

import psycopg
import pytest
from kafka import KafkaProducer

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, TOPICS
from services.devstack.ports import free_port
from services.intake.importers.cfpb import SOURCE as CFPB
from services.intake.validate import MAX_EVENT_BYTES
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_intake import KEY, post, run_import, write_cfpb
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader
from tests.unit.intake.test_importers import COLUMNS_18, row18

pytestmark = pytest.mark.e2e

KAFKA_LIMIT = 1_000_000
"""Under the broker's default `message.max.bytes` (1,048,588), with room for headers."""
LETTER = (
    "我的信用卡在三月被重复扣款，客服承诺回电却一直没有消息。"
    "I was charged twice in March and the bank never called me back as promised. "
)
LONG = (LETTER * (60_000 // len(LETTER) + 1))[:60_000].strip()


def long_text() -> str:
    assert len(LONG) >= 59_999 and any("\u4e00" <= ch <= "\u9fff" for ch in LONG)
    return LONG


@pytest.mark.timeout(600)
def test_a_60000_character_complaint_goes_whole_through_every_way_in(cf, worker_factory, tmp_path):
    # Given intake (with its HTTP API), routing and analytics
    port = free_port()
    workers = [
        worker_factory(
            "intake", cf, CF_INTAKE_HTTP_PORT=str(port), CF_INTAKE_API_KEYS=f"sh-cc={KEY}"
        ),
        worker_factory("routing", cf),
        worker_factory("analytics", cf),
    ]
    wait_ready(workers)
    text = long_text()

    # When the same long letter comes by Kafka, by HTTP and in a CFPB export
    submit(cf, [new_complaint("LONG-K", "long-k", "billing", text)])
    doc = json.loads(new_complaint("LONG-H", "long-h", "billing", text))
    status, body = post(port, "/v1/events", {**doc, "source": "sh-cc"})
    assert status == 202, body
    export = tmp_path / "long.csv"
    write_cfpb(
        export,
        COLUMNS_18,
        [row18(**{"Complaint ID": "7700001", "Consumer complaint narrative": text})],
    )
    assert "accepted 2" in run_import(cf, export)
    ids = {
        complaint_id_for("e2e-cc", "LONG-K"),
        complaint_id_for("sh-cc", "LONG-H"),
        complaint_id_for(CFPB, "7700001"),
    }

    # Then each is registered whole and routed
    registered = TopicReader(cf, "complaints.registered.v1")
    routed = TopicReader(cf, "complaints.routed.v1")

    def complaints(reader: TopicReader) -> dict[str, dict]:
        return {
            d["complaint_id"]: d
            for d in (json.loads(m.value) for m in reader.poll())
            if d["complaint_id"] in ids
        }

    wait_for(lambda: len(complaints(registered)) == 3, what="three registrations", timeout=180)
    for cid, reg in complaints(registered).items():
        assert reg["description"] == text, cid
        assert not reg.get("text_truncated")
    wait_for(lambda: len(complaints(routed)) == 3, what="three routing decisions", timeout=180)

    # And the archive holds the whole text of each
    def archived() -> dict[str, str]:
        with psycopg.connect(cf.db_url()) as conn:
            rows = conn.execute(
                "SELECT complaint_id, payload->>'description' FROM analytics.events"
                " WHERE kind = 'registered' AND complaint_id = ANY(%s)",
                (sorted(ids),),
            ).fetchall()
        return dict(rows)

    wait_for(lambda: len(archived()) == 3, what="three archived registrations", timeout=180)
    assert set(archived().values()) == {text}

    # And no message on any topic is anywhere near Kafka's limit
    for name in TOPICS:
        for m in TopicReader(cf, name).read_to_end():
            size = len(m.value or b"") + len(m.key or b"")
            size += sum(len(k) + len(v or b"") for k, v in m.headers.items())
            assert size < KAFKA_LIMIT, (name, size)


@pytest.mark.timeout(600)
def test_the_largest_event_is_heard_or_kept_whole_and_megabytes_get_a_reason(cf, worker_factory):
    port = free_port()
    intake = worker_factory(
        "intake", cf, CF_INTAKE_HTTP_PORT=str(port), CF_INTAKE_API_KEYS=f"sh-cc={KEY}"
    )
    wait_ready([intake])
    # 100,000 characters of Chinese: about 300 KB, the most a text may hold
    most = "账" * 100_000
    largest = new_complaint("BIG-1", "big-1", "billing", most).encode()
    refused = json.loads(new_complaint("BIG-2", "big-2", "billing", most))
    refused["channel"] = "pigeon"  # the same size, refused for its channel
    refused_bytes = json.dumps(refused, ensure_ascii=False).encode()
    megabytes = b'{"type": "complaint.new", "description": "' + b"x" * 900_000 + b'"}'
    assert len(largest) <= MAX_EVENT_BYTES and len(refused_bytes) <= MAX_EVENT_BYTES

    sender = KafkaProducer(**cf.kafka("test-long").as_dict(), max_request_size=1_048_576)
    topic = cf.topic(RAW.name)
    for key, value in ((b"e2e-cc:BIG-1", largest), (b"e2e-cc:BIG-2", refused_bytes)):
        sender.send(topic, key=key, value=value)
    sender.send(topic, key=b"e2e-cc:BIG-3", value=megabytes)
    sender.flush()
    sender.close()

    # Over HTTP, megabytes are refused before they are read, saying why
    status, body = post(port, "/v1/events", b"{" + b" " * (3 * 1024 * 1024) + b"}")
    assert status == 413 and body["error"] == "too_large"
    assert f"the limit is {MAX_EVENT_BYTES}" in body["detail"]

    registered = TopicReader(cf, "complaints.registered.v1")
    found = registered.wait(
        lambda m: json.loads(m.value)["complaint_id"] == complaint_id_for("e2e-cc", "BIG-1"),
        timeout=120,
    )
    assert found and json.loads(found[0].value)["description"] == most

    rejected = TopicReader(cf, "complaints.rejected.v1")
    wait_for(lambda: len(rejected.poll()) >= 2, what="two dead letters", timeout=120)
    letters = {json.loads(m.value)["reason"]: json.loads(m.value) for m in rejected.poll()}
    assert letters["too_large"]["original_size"] == len(megabytes)
    assert any(str(MAX_EVENT_BYTES) in e for e in letters["too_large"]["errors"])
    # the refused event of the largest size is kept whole, for a replay after a fix
    kept = next(d for r, d in letters.items() if r != "too_large")
    assert kept["original_size"] == len(refused_bytes) and not kept["original_truncated"]
    for m in rejected.poll():
        assert len(m.value) < KAFKA_LIMIT
