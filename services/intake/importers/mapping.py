"""Any CSV export as raw events, through a YAML mapping of columns to event fields.

source: acme-cc                 # the call center
time_format: "%d/%m/%Y %H:%M"   # optional; ISO-8601 when absent
time_zone: Europe/London        # for times without an offset
columns:                        # event field (dots for nesting) ← CSV column
  complaint_ref: Ticket
  occurred_at: Opened
  description: Text
  category: Type
  customer.name: Customer
  customer.phone: Phone
  place: [Street, City, ZIP]    # several columns are joined with ", " (empty ones left out)
defaults:                       # fields not in the file
  channel: phone
  language: en
event_id: "{complaint_ref}-new" # optional template over the mapped fields
"""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.kernel.config_files import load_model

MISSING = {"", "none", "n/a", "na", "null"}


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    columns: dict[str, str | list[str]]
    defaults: dict[str, Any] = {}
    time_format: str | None = None
    time_zone: str = "UTC"
    event_id: str = "{complaint_ref}-new"

    @field_validator("columns")
    @classmethod
    def _needs_reference(cls, columns: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for field in ("complaint_ref", "occurred_at", "description"):
            if field not in columns:
                raise ValueError(f"must map {field!r} to a column")
        return columns

    @field_validator("columns")
    @classmethod
    def _no_field_inside_another(
        cls, columns: dict[str, str | list[str]]
    ) -> dict[str, str | list[str]]:
        for field in columns:
            inner = [f for f in columns if f.startswith(f"{field}.")]
            if inner:
                raise ValueError(
                    f"{field!r} is mapped to a column and has fields of its own too ({inner[0]!r})"
                )
        return columns

    @field_validator("event_id")
    @classmethod
    def _named_fields_only(cls, template: str) -> str:
        try:
            names = [
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            ]
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from exc
        for name in names:
            if not name.isidentifier():
                raise ValueError(
                    f"{{{name}}} is not the name of a mapped field, e.g. {{complaint_ref}}"
                )
        return template

    @model_validator(mode="after")
    def _defaults_hold_the_mapped_fields(self) -> Mapping:
        for field in self.columns:
            *parents, _ = field.split(".")
            for depth in range(1, len(parents) + 1):
                head = ".".join(parents[:depth])
                node: Any = self.defaults
                for step in parents[:depth]:
                    node = node.get(step) if isinstance(node, dict) else None
                if node is not None and not isinstance(node, dict):
                    raise ValueError(
                        f"defaults.{head} must be a mapping: the column of {field!r} goes in it"
                    )
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r}") from exc
        return zone


class LabelMapping(BaseModel):
    """A mapping read for training a classifier: the text is the `subject` and `description`
    columns, the label the `category` column. An import mapping that maps those is one too
    (its other keys are allowed, and not used here)::

        columns: {description: Text, category: Type}
    """

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str]
    source: str | None = None
    defaults: dict[str, Any] = {}
    time_format: str | None = None
    time_zone: str = "UTC"
    event_id: str | None = None

    @field_validator("columns")
    @classmethod
    def _needs_text_and_label(cls, columns: dict[str, str]) -> dict[str, str]:
        if "category" not in columns:
            raise ValueError("must map 'category' (the label) to a column")
        if "description" not in columns and "subject" not in columns:
            raise ValueError("must map 'description' or 'subject' (the text) to a column")
        return columns

    def text(self, row: dict[str, str]) -> str:
        """The subject and description of a row, as routing reads a complaint's text."""
        parts = (self._value(row, f) for f in ("subject", "description"))
        return " ".join(p for p in parts if p)

    def label(self, row: dict[str, str]) -> str | None:
        return self._value(row, "category")

    def _value(self, row: dict[str, str], field: str) -> str | None:
        raw = (row.get(self.columns[field]) or "").strip() if field in self.columns else ""
        return None if raw.lower() in MISSING else raw


def load(path: Path) -> Mapping:
    """The mapping in `path`; a ConfigError names the file, the line, the key and what is
    expected, for every problem at once."""
    return load_model(path, Mapping)


def load_labels(path: Path) -> LabelMapping:
    """A mapping for training (see `LabelMapping`), with the same errors as `load`."""
    return load_model(path, LabelMapping)


def check_header(mapping: Mapping | LabelMapping, columns: list[str]) -> None:
    named = {c for cols in mapping.columns.values() for c in _names(cols)}
    missing = sorted(named - set(columns))
    if missing:
        raise ValueError(f"the file lacks mapped column(s): {', '.join(missing)}")


def events(mapping: Mapping, row: dict[str, str]) -> list[dict[str, Any]]:
    """The `complaint.new` event of one row."""
    doc: dict[str, Any] = {"type": "complaint.new", "source": mapping.source, **mapping.defaults}
    for field, cols in mapping.columns.items():
        present = [v for v in ((row.get(c) or "").strip() for c in _names(cols)) if _given(v)]
        if not present:
            continue
        raw = ", ".join(present)
        target = doc
        *parents, leaf = field.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = _time(mapping, raw) if field == "occurred_at" else raw
    doc.setdefault("customer", {})
    flat = {k: v for k, v in doc.items() if isinstance(v, str)}
    try:
        doc["event_id"] = mapping.event_id.format(**flat)
    except (KeyError, IndexError, ValueError):
        doc["event_id"] = f"{doc.get('complaint_ref', '')}-new"
    return [doc]


def _names(columns: str | list[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else columns


def _given(value: str) -> bool:
    return value.lower() not in MISSING


def _time(mapping: Mapping, raw: str) -> str:
    try:
        parsed = (
            datetime.strptime(raw, mapping.time_format)
            if mapping.time_format
            else datetime.fromisoformat(raw)
        )
    except ValueError:
        return raw  # intake refuses it and says why
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(mapping.time_zone))
    return parsed.isoformat()
