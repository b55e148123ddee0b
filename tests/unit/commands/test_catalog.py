"""The README's topic catalog is the registry, and its readers are what the workers consume."""

from __future__ import annotations

from pathlib import Path

from schemas.catalog import markdown
from schemas.registry import TOPICS
from services.commands.workers import WORKERS, handler_class, readers_by_topic

README = Path(__file__).parents[3] / "README.md"


def test_readme_topic_catalog_is_generated_from_the_registry_and_the_handlers():
    readme = README.read_text(encoding="utf-8")
    assert markdown(readers_by_topic()) in readme, (
        "README topic catalog drifted: paste `complaintflow topics --markdown`"
    )


def test_every_worker_named_as_a_reader_consumes_the_topic_and_no_other_does():
    readme = README.read_text(encoding="utf-8")
    catalog = readme[
        readme.index("<!-- topic-catalog:begin") : readme.index("<!-- topic-catalog:end")
    ]
    rows = [line for line in catalog.splitlines() if line[:3] == "| `"]
    named = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        named[cells[0].strip("`")] = {r.strip() for r in cells[5].split(",")} & set(WORKERS)
    for worker in WORKERS:
        consumed = {spec.name for spec in handler_class(worker).inputs}
        assert consumed <= set(TOPICS), f"{worker} reads a topic the registry does not have"
        listed = {topic for topic, readers in named.items() if worker in readers}
        assert listed == consumed, f"catalog says {worker} reads {listed}, it reads {consumed}"
