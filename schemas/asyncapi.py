"""The AsyncAPI 3.0 document of our topics, rendered from the registry and the topic models.

One channel per topic (its Kafka binding: partitions, retention or compaction), one message
per topic (JSON payload, CloudEvents headers, the key), and one operation per worker and
topic it reads or writes. Payload schemas are the models' JSON Schemas with their shared
definitions moved to `components.schemas`, so the document stands alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from schemas.envelope import CONTENT_TYPE, SCHEMA_VERSION_HEADER, SPECVERSION
from schemas.registry import TOPICS, TopicSpec

ASYNCAPI_FILE = Path(__file__).parent / "asyncapi.yaml"
KAFKA_BINDING = "0.5.0"
HEADERS = "CloudEventHeaders"
ANY_WORKER = "any worker"


def cloudevent_headers() -> dict[str, Any]:
    """The CloudEvents attributes every message carries as Kafka headers (binding mode)."""

    def text(description: str, **more: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **more}

    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka headers (binary content mode), "
        "UTF-8 strings. Replayed messages keep their `ce_id`: de-duplicate on it.",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "content-type",
            SCHEMA_VERSION_HEADER,
        ],
        "properties": {
            "ce_specversion": text("CloudEvents version.", const=SPECVERSION),
            "ce_id": text("Event id, stable across replays (the de-duplication key)."),
            "ce_source": text("The worker (or call center) that produced the event."),
            "ce_type": text("Event type, one per topic (see each message)."),
            "ce_time": text("When the event happened (RFC 3339, UTC).", format="date-time"),
            "ce_subject": text("What the event is about: the message key unless it names none."),
            "content-type": text("Media type of the value.", const=CONTENT_TYPE),
            SCHEMA_VERSION_HEADER: text("Version of the payload schema (`x-kafka` in it)."),
        },
    }


def _message_name(spec: TopicSpec, schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    return str(title) if title else "RawEvent" if spec.name == "complaints.raw.v1" else spec.name


def _moved(node: Any) -> Any:
    """`node` with references into `$defs` pointed at `components.schemas`, and pydantic's
    discriminator objects left out (AsyncAPI's is a property name for `allOf` hierarchies;
    the variants' `const` type already tells them apart)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "discriminator" and isinstance(v, dict):
                continue
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                v = "#/components/schemas/" + v.removeprefix("#/$defs/")
            out[k] = _moved(v)
        return out
    if isinstance(node, list):
        return [_moved(v) for v in node]
    return node


def _payloads(schemas: dict[str, Any]) -> dict[str, str]:
    """Topic → the component name of its payload; every schema added to `schemas`."""
    names: dict[str, str] = {}
    for spec in TOPICS.values():
        schema: dict[str, Any] = copy.deepcopy(spec.json_schema())
        defs: dict[str, Any] = schema.pop("$defs", {})
        name = _message_name(spec, schema)
        for part, body in [*defs.items(), (name, schema)]:
            moved = _moved(body)
            if part in schemas and schemas[part] != moved:
                raise ValueError(f"two different schemas are both named {part!r} ({spec.name})")
            schemas[part] = moved
        names[spec.name] = name
    return names


def _writers(spec: TopicSpec, workers: Sequence[str]) -> list[str]:
    if ANY_WORKER in spec.writers:
        return list(workers)
    return [w for w in workers if w in spec.writers]


def document(
    workers_reading: Mapping[str, Sequence[str]], workers: Sequence[str], *, version: str
) -> dict[str, Any]:
    """The AsyncAPI document; `workers_reading` says which workers read each topic (their
    handlers' declared inputs), `workers` every worker in pipeline order."""
    schemas: dict[str, Any] = {HEADERS: cloudevent_headers()}
    payloads = _payloads(schemas)
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in TOPICS.values():
        name = payloads[spec.name]
        messages[name] = {
            "name": name,
            "title": spec.ce_type,
            "summary": spec.description,
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": f"#/components/schemas/{HEADERS}"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": spec.key},
                    "bindingVersion": KAFKA_BINDING,
                }
            },
            "x-ce-type": spec.ce_type,
            "x-schema-version": spec.schema_version,
        }
        topic_config: dict[str, Any] = {
            "cleanup.policy": ["compact" if spec.compacted else "delete"]
        }
        if not spec.compacted:
            topic_config["retention.ms"] = spec.retention_ms
        readers = [*workers_reading.get(spec.name, ()), *spec.also_read_by]
        channels[spec.name] = {
            "address": spec.name,
            "title": spec.name,
            "description": f"{spec.description}\n\nKey: {spec.key}. "
            f"Written by {', '.join(spec.writers)}; read by {', '.join(readers) or 'nobody yet'}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "partitions": spec.partitions,
                    "topicConfiguration": topic_config,
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        ref = {
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "messages": [{"$ref": f"#/channels/{spec.name}/messages/{name}"}],
        }
        for worker in _writers(spec, workers):
            operations[f"{worker}.send.{spec.name}"] = {
                "action": "send",
                "title": f"{worker} writes {spec.name}",
                **ref,
            }
        for worker in workers_reading.get(spec.name, ()):
            operations[f"{worker}.receive.{spec.name}"] = {
                "action": "receive",
                "title": f"{worker} reads {spec.name}",
                **ref,
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [f"complaintflow.{worker}"]},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ComplaintFlow topics",
            "version": version,
            "description": "The Kafka topics of ComplaintFlow: what each carries, its key, "
            "who writes and who reads it. Generated from the topic registry "
            "(`complaintflow schemas export`); do not edit. Schema evolution: fields are only "
            "ever added, optional, in place; a breaking change gets a new `.v2` topic.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Apache Kafka cluster (`KAFKA_BOOTSTRAP_SERVERS`). Topic "
                "and group names carry `CF_TOPIC_PREFIX` when one is set.",
                "variables": {"bootstrap": {"default": "localhost:9092"}},
            }
        },
        "channels": channels,
        "operations": _by_worker(operations, workers),
        "components": {"schemas": schemas, "messages": messages},
    }


def _by_worker(operations: dict[str, Any], workers: Sequence[str]) -> dict[str, Any]:
    """Each worker's operations together, in pipeline order: what it reads, then writes."""
    topics = list(TOPICS)

    def order(op_id: str) -> tuple[int, int, int]:
        worker, action, topic = op_id.split(".", 2)
        return workers.index(worker), action != "receive", topics.index(topic)

    return {op_id: operations[op_id] for op_id in sorted(operations, key=order)}


def rendered(
    workers_reading: Mapping[str, Sequence[str]], workers: Sequence[str], *, version: str
) -> str:
    """The document as the committed YAML file holds it."""
    doc = document(workers_reading, workers, version=version)
    # Through JSON first: plain dicts, lists and scalars only, no YAML anchors.
    plain = json.loads(json.dumps(doc))
    header = "# Generated by `complaintflow schemas export` from the topic registry; do not edit.\n"
    return header + yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, width=100)
