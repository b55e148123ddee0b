"""Schema evolution: every topic's schema stays readable by consumers of the last release."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.evolution import RELEASED_DIR, incompatibilities, released
from schemas.export import rendered
from schemas.registry import TOPICS


def test_every_topic_schema_is_compatible_with_the_last_release():
    current = {name: json.loads(text) for name, text in rendered().items()}
    problems = []
    for name, old in released().items():
        topic = name.removesuffix(".schema.json")
        if name not in current:
            problems.append(f"{topic}: topic gone from the registry (consumers still read it)")
            continue
        problems += [f"{topic}: {p}" for p in incompatibilities(old, current[name])]
    assert not problems, (
        "incompatible schema changes (add optional fields only; a breaking change needs a new "
        "`.v2` topic):\n  " + "\n  ".join(problems)
    )


def test_every_topic_has_a_released_schema():
    # A new topic is released with the next release: its first schema is then kept
    assert {f"{t}.schema.json" for t in TOPICS} == set(released()), (
        f"copy the new topic's schema from schemas/json into {RELEASED_DIR} when releasing"
    )


@pytest.fixture
def registered() -> dict[str, Any]:
    return json.loads(rendered()["complaints.registered.v1.schema.json"])


@pytest.fixture
def raw() -> dict[str, Any]:
    return json.loads(rendered()["complaints.raw.v1.schema.json"])


def changed(doc: dict[str, Any], change) -> list[str]:
    new = copy.deepcopy(doc)
    change(new)
    return incompatibilities(doc, new)


def test_an_unchanged_schema_is_compatible(registered, raw):
    assert incompatibilities(registered, registered) == []
    assert incompatibilities(raw, raw) == []


def test_a_new_optional_field_is_compatible(registered):
    def add(doc):
        doc["properties"]["satisfaction"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}

    assert changed(registered, add) == []


def test_a_new_required_field_is_named(registered):
    def add(doc):
        doc["properties"]["satisfaction"] = {"type": "integer"}
        doc["required"].append("satisfaction")

    assert changed(registered, add) == ["satisfaction: new field is required (must be optional)"]


def test_a_removed_or_renamed_field_is_named(registered):
    def rename(doc):
        doc["properties"]["ref"] = doc["properties"].pop("reference")
        doc["required"] = ["ref" if r == "reference" else r for r in doc["required"]]

    assert changed(registered, rename) == [
        "reference: removed or renamed (fields may only be added)",
        "ref: new field is required (must be optional)",
    ]


def test_a_retyped_field_is_named(registered):
    def retype(doc):
        doc["properties"]["registered_at"] = {"type": "integer"}

    assert changed(registered, retype) == ["registered_at: retyped from string to integer"]


def test_a_field_made_nullable_or_optional_is_named(registered):
    def loosen(doc):
        doc["properties"]["source"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        doc["required"].remove("source")

    assert changed(registered, loosen) == [
        "source: was always present, now optional",
        "source: retyped from string to null|string",
    ]


def test_enums_may_grow_but_never_shrink(registered):
    def grow(doc):
        doc["$defs"]["Channel"]["enum"].append("carrier_pigeon")

    def shrink(doc):
        doc["$defs"]["Channel"]["enum"].remove("fax")

    assert changed(registered, grow) == []
    assert changed(registered, shrink) == [
        "channel: value(s) 'fax' removed (values may only be added)"
    ]


def test_nested_fields_and_union_variants_are_followed(raw):
    def drop_phone(doc):
        del doc["$defs"]["Customer"]["properties"]["phone"]

    def drop_variant(doc):
        doc["oneOf"] = [v for v in doc["oneOf"] if v["$ref"] != "#/$defs/SurveyAnswered"]

    def new_variant(doc):
        doc["$defs"]["Merged"] = {
            "type": "object",
            "title": "Merged",
            "properties": {"type": {"const": "complaint.merged", "type": "string"}},
        }
        doc["oneOf"].append({"$ref": "#/$defs/Merged"})

    assert changed(raw, drop_phone) == [
        "<NewComplaint>.customer.phone: removed or renamed (fields may only be added)"
    ]
    assert changed(raw, drop_variant) == ["the message: variant SurveyAnswered removed"]
    assert changed(raw, new_variant) == []
