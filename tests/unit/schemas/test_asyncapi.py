"""The AsyncAPI document: committed as generated, valid AsyncAPI 3.0, complete and usable."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from schemas.asyncapi import ASYNCAPI_FILE
from schemas.registry import TOPICS
from services.commands.workers import WORKERS, asyncapi_yaml, readers_by_topic
from tests.unit.schemas.test_registry import REGISTERED_FIELDS

VENDOR = Path(__file__).parents[3] / "schemas" / "vendor"
OFFICIAL = VENDOR / "asyncapi-3.0.0.schema.json"
"""The AsyncAPI 3.0.0 JSON Schema of @asyncapi/specs (`schemas/vendor/update-asyncapi-schema`)."""


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def official() -> jsonschema.Draft7Validator:
    schema = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    assert schema["title"] == "AsyncAPI 3.0.0 schema."
    return jsonschema.Draft7Validator(schema)


def problems(validator: jsonschema.Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
        for e in validator.iter_errors(doc)
    ]


def test_the_committed_document_is_what_the_registry_renders():
    assert ASYNCAPI_FILE.read_text(encoding="utf-8") == asyncapi_yaml(), (
        "schemas/asyncapi.yaml drifted from the registry: run `complaintflow schemas export`"
    )


def test_the_document_is_valid_asyncapi_3(doc, official):
    assert doc["asyncapi"] == "3.0.0"
    assert problems(official, doc) == []


def test_the_official_schema_refuses_a_broken_document(doc, official):
    # The check above can fail: an operation with a 2.x verb and a message without its
    # payload's reference form are refused
    broken = copy.deepcopy(doc)
    next(iter(broken["operations"].values()))["action"] = "publish"
    broken["components"]["messages"]["DeadLetter"]["payload"] = "DeadLetter"
    found = problems(official, broken)
    assert any("action" in p for p in found) and any("DeadLetter" in p for p in found), found


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_within_the_document(doc):
    for ref in _refs(doc):
        assert ref.startswith("#/"), f"{ref} points outside the document"
        node: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_topic_is_a_channel_with_its_key_headers_and_who_reads_and_writes(doc):
    assert set(doc["channels"]) == set(TOPICS)
    ops = doc["operations"]
    for name, spec in TOPICS.items():
        channel = doc["channels"][name]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        [message_ref] = channel["messages"].values()
        message = doc["components"]["messages"][message_ref["$ref"].rsplit("/", 1)[1]]
        assert message["bindings"]["kafka"]["key"]["description"] == spec.key
        assert message["headers"] == {"$ref": "#/components/schemas/CloudEventHeaders"}
        assert message["x-ce-type"] == spec.ce_type
        for worker in readers_by_topic().get(name, []):
            op = ops[f"{worker}.receive.{name}"]
            assert op["bindings"]["kafka"]["groupId"]["enum"] == [f"complaintflow.{worker}"]
    assert {op.split(".")[0] for op in ops if op.endswith(".send.complaints.rejected.v1")} == set(
        WORKERS
    )
    assert "intake.send.complaints.registered.v1" in ops
    assert not any(op.endswith(".send.complaints.raw.v1") for op in ops)  # call centers write it
    headers = doc["components"]["schemas"]["CloudEventHeaders"]
    assert {"ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion"} <= set(
        headers["required"]
    )


def _payload_validator(doc: dict[str, Any], name: str) -> jsonschema.Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


RAW_NEW = dict(
    type="complaint.new",
    source="cc-north",
    event_id="e-1",
    complaint_ref="R-1",
    occurred_at="2026-01-01T08:00:00+08:00",
    customer={"name": "王芳"},
    description="账单错误",
)


def test_a_consumer_can_validate_messages_with_the_documents_schemas(doc):
    registered = _payload_validator(doc, "RegisteredComplaint")
    assert list(registered.iter_errors(REGISTERED_FIELDS)) == []
    refused = list(registered.iter_errors({**REGISTERED_FIELDS, "channel": "pigeon"}))
    assert refused and "pigeon" in refused[0].message
    raw = _payload_validator(doc, "RawEvent")
    assert list(raw.iter_errors(RAW_NEW)) == []
    assert list(raw.iter_errors({**RAW_NEW, "type": "complaint.unknown"}))
