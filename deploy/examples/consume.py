"""A downstream consumer of a ComplaintFlow topic, with the Python client (kafka-python).

Joins a consumer group of your own, reads each message's CloudEvents headers and JSON value,
skips replays (the same `ce_id` again), prints one JSON line a message, and commits what it
has handled. Copy it and put your own work where `handle` is.

    KAFKA_BOOTSTRAP_SERVERS=localhost:9092 python deploy/examples/consume.py \\
        complaints.routed.v1 --group my-team.routed-report

`--until-end` stops once the group has read every partition to its end (scripts, tests).
For a secured cluster set CF_KAFKA_SECURITY_PROTOCOL (SASL_SSL), CF_KAFKA_SASL_MECHANISM
(SCRAM-SHA-512), CF_KAFKA_SASL_USERNAME, CF_KAFKA_SASL_PASSWORD and CF_KAFKA_SSL_CAFILE.
Needs only `pip install kafka-python`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict
from typing import Any

from kafka import KafkaConsumer

SEEN_IDS = 100_000
"""How many recent `ce_id`s are remembered to skip replays (a replay follows soon after)."""


def connection() -> dict[str, Any]:
    env = os.environ.get
    cfg: dict[str, Any] = {
        "bootstrap_servers": env("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092").split(","),
        "security_protocol": env("CF_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    }
    if env("CF_KAFKA_SASL_MECHANISM"):
        cfg["sasl_mechanism"] = env("CF_KAFKA_SASL_MECHANISM")
        cfg["sasl_plain_username"] = env("CF_KAFKA_SASL_USERNAME")
        cfg["sasl_plain_password"] = env("CF_KAFKA_SASL_PASSWORD")
    if env("CF_KAFKA_SSL_CAFILE"):
        cfg["ssl_cafile"] = env("CF_KAFKA_SSL_CAFILE")
    return cfg


def handle(record: Any) -> dict[str, Any]:
    """Your work goes here; this one turns the message into a line to print."""
    headers = {k: v.decode() for k, v in record.headers or [] if v is not None}
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode() if record.key else None,
        "ce_id": headers.get("ce_id"),
        "ce_type": headers.get("ce_type"),
        "ce_time": headers.get("ce_time"),
        "value": json.loads(record.value),
    }


def at_end(consumer: KafkaConsumer) -> bool:
    owned = consumer.assignment()
    if not owned:
        return False
    ends = consumer.end_offsets(list(owned))
    return all(consumer.position(tp) >= end for tp, end in ends.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", help="e.g. complaints.routed.v1")
    parser.add_argument("--group", required=True, help="your team's consumer group id")
    parser.add_argument("--until-end", action="store_true", help="stop at the end of the topic")
    args = parser.parse_args(argv)
    consumer = KafkaConsumer(
        os.environ.get("CF_TOPIC_PREFIX", "") + args.topic,
        group_id=args.group,
        client_id=f"{args.group}-example",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **connection(),
    )
    seen: OrderedDict[str, None] = OrderedDict()
    try:
        while True:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    line = handle(record)
                    if line["ce_id"] in seen:  # a replay of a message already handled
                        continue
                    seen[line["ce_id"]] = None
                    if len(seen) > SEEN_IDS:
                        seen.popitem(last=False)
                    print(json.dumps(line, ensure_ascii=False), flush=True)
            if batch:
                consumer.commit()  # only after the work is done: at least once
            elif args.until_end and at_end(consumer):
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
