"""Kafka's own producer and consumer performance tools (they ship with the broker): the
physical limit of this machine, on the same messages and partitions as every other stage.

`ProducerPerformance` sends the bench's own raw events (`--payload-file`, one per line) with
the producer settings the kafka-python figure uses; `ConsumerPerformance` reads them back.
The producer's first records (connections, metadata) are its warm-up, left out of its
figures as the tool allows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from services.devstack.local_kafka import LOG4J, ensure_tool_jars

PRODUCER = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER = "org.apache.kafka.tools.ConsumerPerformance"
_SENT = re.compile(
    r"(?P<records>\d+) (?:steady state )?records sent,"
    r" (?P<per_s>[\d.]+) records/sec \((?P<mb_s>[\d.]+) MB/sec\),"
    r" (?P<avg_ms>[\d.]+) ms avg latency, (?P<max_ms>[\d.]+) ms max latency,"
    r" (?P<p50_ms>\d+) ms 50th, (?P<p95_ms>\d+) ms 95th, (?P<p99_ms>\d+) ms 99th"
)


def parse_producer(output: str) -> dict[str, float]:
    """The final summary of `ProducerPerformance`: the last "records sent" line with
    percentiles (the periodic lines have none), which is the steady state's when the run
    had warm-up records."""
    found = list(_SENT.finditer(output))
    if not found:
        raise ValueError(f"no producer summary in the tool's output: {output[-500:]!r}")
    return {k: float(v) for k, v in found[-1].groupdict().items()}


def parse_consumer(output: str) -> dict[str, float]:
    """The summary of `ConsumerPerformance`: its header line names the comma-separated
    fields of the first line after it that has as many (a warning may come between)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if not line.startswith("start.time"):
            continue
        names = [n.strip() for n in line.split(",")]
        for after in lines[i + 1 :]:
            values = [v.strip() for v in after.split(",")]
            if len(values) == len(names):
                # start.time and end.time are dates; every other field is a number
                pairs = zip(names, values, strict=True)
                return {n: float(v) for n, v in pairs if not n.endswith(".time")}
    raise ValueError(f"no consumer summary in the tool's output: {output[-500:]!r}")


def _java(main: str, args: list[str], *, logs: str, timeout: float) -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Java is needed for Kafka's performance tools")
    tools = ensure_tool_jars()
    done = subprocess.run(
        [
            java,
            "-Xmx512m",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={logs}",  # the log4j2 file logs there, not in the checkout
            "-cp",
            f"{tools}/*",
            main,
            *args,
        ],
        cwd=logs,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{main} failed ({done.returncode}): {done.stderr[-1000:]}")
    return done.stdout


def kafka_tools(bootstrap: str, topic: str, events: list[bytes]) -> dict[str, Any]:
    """Produce `len(events)` of these payloads to `topic` with `ProducerPerformance`
    (acks=all, linger 5 ms, 64 KiB batches, like the kafka-python figure), then consume them
    with `ConsumerPerformance`."""
    n = len(events)
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        payloads = Path(tmp) / "payloads.txt"
        payloads.write_bytes(b"\n".join(e.replace(b"\n", b" ") for e in events))
        produced = parse_producer(
            _java(
                PRODUCER,
                [
                    "--bootstrap-server",
                    bootstrap,
                    "--topic",
                    topic,
                    "--num-records",
                    str(n),
                    "--throughput",
                    "-1",
                    "--payload-file",
                    str(payloads),
                    "--warmup-records",
                    str(min(1000, n // 10)),
                    "--reporting-interval",
                    "600000",
                    "--command-property",
                    "acks=all",
                    "linger.ms=5",
                    "batch.size=65536",
                    "enable.idempotence=true",
                ],
                logs=tmp,
                timeout=600,
            )
        )
        consumed = parse_consumer(
            _java(
                CONSUMER,
                [
                    "--bootstrap-server",
                    bootstrap,
                    "--topic",
                    topic,
                    "--num-records",
                    str(n),
                    "--group",
                    f"bench-perf-{uuid.uuid4().hex[:8]}",
                    "--timeout",
                    "60000",
                ],
                logs=tmp,
                timeout=600,
            )
        )
    return {
        "produce_per_s": produced["per_s"],
        "produce_mb_per_s": produced["mb_s"],
        "produce_latency_ms": {k: produced[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        "consume_per_s": consumed.get("fetch.nMsg.sec", consumed.get("nMsg.sec", 0.0)),
        "consume_mb_per_s": consumed.get("fetch.MB.sec", consumed.get("MB.sec", 0.0)),
        "consume_with_join_per_s": consumed.get("nMsg.sec", 0.0),
    }
