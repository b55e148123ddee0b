"""JSON log lines: the fields a log pipeline reads, the record being handled, exceptions."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from schemas.envelope import complaint_id_for
from schemas.raw import raw_key
from schemas.registry import RAW, REGISTERED
from services.kernel.handler import Record
from services.kernel.logs import Condense, JsonFormatter, handling
from services.kernel.loop import about


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("routing"))
    logger = logging.getLogger("test.json-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def parsed(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def record(spec, key: bytes | None, offset: int = 7) -> Record:
    return Record(spec, f"t.{spec.name}", 2, offset, key, b"{}", [], 0)


def test_a_line_is_one_json_object_with_the_fields_a_pipeline_reads(lines):
    logger, out = lines
    logger.warning("routed %s to %s", "complaints.routed.v1[2]@7", "财务部")
    [line] = parsed(out)
    assert set(line) == {"time", "level", "worker", "logger", "message"}
    assert line["level"] == "WARNING" and line["worker"] == "routing"
    assert line["logger"] == "test.json-logs"
    assert line["message"] == "routed complaints.routed.v1[2]@7 to 财务部"
    assert datetime.fromisoformat(str(line["time"])).utcoffset().total_seconds() == 0


def test_lines_within_handling_name_the_record_and_only_there(lines):
    logger, out = lines
    cid = complaint_id_for("cc", "R-1")
    with handling(**about(record(REGISTERED, cid.encode()))):
        logger.info("inside")
        with handling(offset=8):
            logger.info("nested")
    logger.info("outside")
    inside, nested, outside = parsed(out)
    assert {k: inside[k] for k in ("complaint_id", "topic", "partition", "offset")} == {
        "complaint_id": cid,
        "topic": "t.complaints.registered.v1",
        "partition": 2,
        "offset": 7,
    }
    assert nested["offset"] == 8 and nested["complaint_id"] == cid
    assert "complaint_id" not in outside and "offset" not in outside


def test_fields_given_with_the_call_win(lines):
    logger, out = lines
    with handling(topic="a", offset=1):
        logger.info("dead-lettered", extra={"offset": 5})
    [line] = parsed(out)
    assert line["topic"] == "a" and line["offset"] == 5


def test_an_exception_is_a_field_with_its_traceback(lines):
    logger, out = lines
    try:
        raise ValueError("bad calendar")
    except ValueError:
        logger.exception("tick failed")
    [line] = parsed(out)
    assert line["message"] == "tick failed" and line["level"] == "ERROR"
    assert "Traceback" in str(line["exception"])
    assert "ValueError: bad calendar" in str(line["exception"])


def test_a_raw_events_complaint_id_comes_from_its_key():
    fields = about(record(RAW, raw_key("cc-north", "R:42")))
    assert fields["complaint_id"] == complaint_id_for("cc-north", "R:42")


def test_a_key_that_is_no_complaint_id_is_left_out():
    # A stray producer's key (here a phone number) never reaches a log line
    assert "complaint_id" not in about(record(REGISTERED, b"+86 139 1234 5678"))
    assert "complaint_id" not in about(record(RAW, None))
    assert "complaint_id" not in about(record(RAW, b"no-separator"))


def test_the_kafka_clients_repeated_errors_are_condensed():
    # Given the filter on a handler, and a clock the test moves
    now = [0.0]
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Condense(every=30, clock=lambda: now[0]))
    log = logging.getLogger("kafka.net.manager.test-condense")
    log.addHandler(handler)
    log.propagate = False
    ours = logging.getLogger("services.test-condense")
    ours.addHandler(handler)
    ours.propagate = False
    try:
        # When the client fails to connect 50 times in 10 s, and once more 30 s later
        for i in range(50):
            now[0] = i * 0.2
            log.error("Connection failed to node %d: %s", 1, "ECONNREFUSED")
            ours.error("our own line %d", i)
        now[0] = 40.0
        log.error("Connection failed to node %d: %s", 1, "ECONNREFUSED")
    finally:
        log.removeHandler(handler)
        ours.removeHandler(handler)
    lines = out.getvalue().splitlines()
    # Then its line shows twice, the second saying how many were held back; ours all show
    client = [line for line in lines if "Connection failed" in line]
    assert client == [
        "Connection failed to node 1: ECONNREFUSED",
        "Connection failed to node 1: ECONNREFUSED (and 49 more like it in the last 40 s)",
    ]
    assert len([line for line in lines if "our own line" in line]) == 50
