"""Reading the summaries of Kafka's own performance tools (output of the 4.x tools)."""

from __future__ import annotations

import pytest

from services.bench.kafka_tools import parse_consumer, parse_producer

PRODUCER = """\
Reading payloads from: /tmp/payloads.txt
Number of records read: 2
Warmup first 200 records. Steady state results will print after the complete test summary.
1 records sent, 0.1 records/sec (0.00 MB/sec), 11336.0 ms avg latency, 11336.0 ms max latency.
2000 records sent, 230.361668 records/sec (0.00 MB/sec), 174.48 ms avg latency, 7362.00 ms max \
latency, 151 ms 50th, 466 ms 95th, 510 ms 99th, 528 ms 99.9th.
1800 steady state records sent, 1089.588378 records/sec (0.01 MB/sec), 143.48 ms avg latency, \
305.00 ms max latency, 150 ms 50th, 252 ms 95th, 278 ms 99th, 305 ms 99.9th.
"""

CONSUMER = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
WARNING: Exiting before consuming the expected number of records: timeout (10000 ms) exceeded.
2026-12-02 07:04:57:284, 2026-12-02 07:05:07:570, 0.8363, 0.0813, 2000, 194.4390, 9037, 1249, \
0.6696, 1601.2810
"""


def test_the_producer_figure_is_the_steady_state_after_the_warm_up():
    got = parse_producer(PRODUCER)
    assert got["records"] == 1800
    assert got["per_s"] == pytest.approx(1089.588378)
    assert (got["p50_ms"], got["p95_ms"], got["p99_ms"], got["max_ms"]) == (150, 252, 278, 305)


def test_without_warm_up_the_complete_summary_counts():
    lines = PRODUCER.splitlines()
    got = parse_producer("\n".join(line for line in lines if "steady state" not in line))
    assert got["records"] == 2000 and got["per_s"] == pytest.approx(230.361668)


def test_the_consumer_fields_are_named_by_its_header_past_a_warning():
    got = parse_consumer(CONSUMER)
    assert got["data.consumed.in.nMsg"] == 2000
    assert got["fetch.nMsg.sec"] == pytest.approx(1601.281)
    assert got["nMsg.sec"] == pytest.approx(194.439)
    assert "start.time" not in got


def test_output_without_a_summary_is_an_error_that_shows_it():
    with pytest.raises(ValueError, match="no producer summary"):
        parse_producer("Exception in thread main: TimeoutException")
    with pytest.raises(ValueError, match="no consumer summary"):
        parse_consumer("start.time, end.time\n")
