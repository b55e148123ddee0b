"""Export of every topic's JSON Schema (committed beside the models; a test checks drift)."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.registry import TOPICS

JSON_DIR = Path(__file__).parent / "json"


def rendered() -> dict[str, str]:
    """File name → JSON Schema text of each topic, as `export` writes them."""
    out: dict[str, str] = {}
    for spec in TOPICS.values():
        doc = {
            **spec.json_schema(),
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:complaintflow:schema:{spec.name}",
            "title": spec.name,
            "description": spec.description,
            "x-kafka": {
                "key": spec.key,
                "partitions": spec.partitions,
                "compacted": spec.compacted,
                "ce_type": spec.ce_type,
                "schema_version": spec.schema_version,
            },
        }
        out[f"{spec.name}.schema.json"] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


def export(directory: Path | None = None) -> list[Path]:
    directory = directory or JSON_DIR
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
