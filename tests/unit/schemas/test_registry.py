"""The topic registry and the schemas derived from it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from schemas.export import JSON_DIR, rendered
from schemas.registered import RegisteredComplaint
from schemas.registry import COMPLAINT_PARTITIONS, TOPICS


def test_every_design_topic_is_registered():
    assert set(TOPICS) == {
        "complaints.raw.v1",
        "complaints.rejected.v1",
        "complaints.registered.v1",
        "complaints.lifecycle.v1",
        "complaints.routed.v1",
        "complaints.sla.v1",
        "complaints.notifications.v1",
        "complaints.alerts.v1",
        "complaints.stats.v1",
    }


def test_complaint_keyed_topics_are_co_partitioned():
    keyed = [s for s in TOPICS.values() if s.key == "complaint_id"]
    assert len(keyed) == 5
    assert {s.partitions for s in keyed} == {COMPLAINT_PARTITIONS}


def test_stats_topic_is_compacted_and_others_expire():
    assert TOPICS["complaints.stats.v1"].topic_config() == {"cleanup.policy": "compact"}
    assert "retention.ms" in TOPICS["complaints.raw.v1"].topic_config()


def test_committed_json_schemas_match_the_models():
    # Given the models as they are now, When rendered, Then the committed files are identical
    for name, text in rendered().items():
        path = JSON_DIR / name
        assert path.exists(), f"{name} not exported: run `complaintflow schemas export`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} drifted from its model: run `complaintflow schemas export`"
        )


def test_exported_schema_names_topic_metadata():
    doc = json.loads(rendered()["complaints.routed.v1.schema.json"])
    assert doc["title"] == "complaints.routed.v1"
    assert doc["x-kafka"]["key"] == "complaint_id"
    assert "priority" in doc["properties"]


REGISTERED_FIELDS = dict(
    complaint_id="c",
    reference="CF-0000-0000",
    source="s",
    external_ref="r",
    source_event_id="e",
    occurred_at="2026-01-01T00:00:00+08:00",
    source_utc_offset="+08:00",
    registered_at="2026-01-01T00:00:00Z",
    channel="phone",
    language="en",
    description="d",
    customer_token="cus_x",
)
"""A valid registered complaint, as its producer sends it."""


def test_models_we_produce_reject_unknown_fields():
    fields = REGISTERED_FIELDS
    model = RegisteredComplaint.model_validate(fields)
    assert model.occurred_at.utcoffset().total_seconds() == 0  # normalised to UTC
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RegisteredComplaint.model_validate({**fields, "customer_phone": "13812345678"})
