"""Every topic has an example message in the README, valid against its schema, and the
README's section is exactly what the examples render."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

from schemas.registry import TOPICS
from services.commands import examples
from services.commands.cli import main

README = Path(__file__).parents[3] / "README.md"


def test_every_topic_has_an_example_valid_against_its_schema():
    found = examples.examples()
    assert set(found) == set(TOPICS)
    for name, (_, value) in found.items():
        TypeAdapter(TOPICS[name].schema).validate_python(value)


def test_a_drifted_example_is_refused(monkeypatch):
    broken = examples.examples()
    broken["complaints.sla.v1"][1]["kind"] = "overdue"
    monkeypatch.setattr(examples, "examples", lambda: broken)
    try:
        examples.validated()
    except ValueError as exc:
        assert "kind" in str(exc)
    else:
        raise AssertionError("an example outside its schema was accepted")


def test_only_the_raw_topic_carries_contact_details_in_clear():
    for name, (_, value) in examples.examples().items():
        text = str(value)
        assert (examples.PHONE in text) == (name == "complaints.raw.v1"), name


def test_readme_shows_the_rendered_examples(capsys):
    assert main(["topics", "--examples"]) == 0
    rendered = capsys.readouterr().out.strip()
    assert rendered == examples.markdown()
    assert rendered in README.read_text(encoding="utf-8"), (
        "README example messages drifted: paste `complaintflow topics --examples`"
    )
