"""The downstream examples in deploy/examples read real topics on the real broker: kcat and
the Python client, each showing the CloudEvents headers and the JSON value."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from schemas.envelope import complaint_id_for
from schemas.registered import RegisteredComplaint
from services.intake.app import Intake
from tests.conftest import settings_env, wait_for
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).parents[2] / "deploy" / "examples"
REFS = ("EX-1", "EX-2", "EX-3")
TYPE = "io.complaintflow.complaint.registered.v1"


@pytest.fixture
def registered(cf, runner_factory) -> set[str]:
    """Three complaints registered by intake: their ids."""
    runner_factory(Intake, cf)
    submit(cf, [new_complaint(ref, f"ev-{ref}", "billing", "账单错误") for ref in REFS])
    reader = TopicReader(cf, "complaints.registered.v1")
    wait_for(lambda: len(reader.poll()) >= len(REFS), what="registrations")
    reader.close()
    return {complaint_id_for("e2e-cc", ref) for ref in REFS}


def example(cf, *command: str) -> list[dict]:
    done = subprocess.run(
        command, env=settings_env(cf), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_kcat_example_shows_headers_key_and_json_value(cf, registered):
    lines = example(cf, str(EXAMPLES / "kcat-consume.sh"), "complaints.registered.v1", "-e")
    assert {line["key"] for line in lines} == registered
    for line in lines:
        assert line["topic"] == cf.topic("complaints.registered.v1")
        pairs = line["headers"]  # [name, value, name, value, ...]
        headers = dict(zip(pairs[::2], pairs[1::2], strict=True))
        assert headers["ce_type"] == TYPE and headers["ce_id"]
        complaint = RegisteredComplaint.model_validate_json(line["payload"])
        assert complaint.complaint_id == line["key"]


def test_the_python_example_reads_as_a_group_and_commits(cf, registered):
    group = f"downstream-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, str(EXAMPLES / "consume.py"), "complaints.registered.v1"]
    lines = example(cf, *command, "--group", group, "--until-end")
    assert {line["key"] for line in lines} == registered
    for line in lines:
        assert line["ce_type"] == TYPE and line["ce_id"]
        assert RegisteredComplaint.model_validate(line["value"]).complaint_id == line["key"]
    # The group committed what it handled: run again, it has nothing new
    assert example(cf, *command, "--group", group, "--until-end") == []
