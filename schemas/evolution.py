"""The schema-evolution rule: a topic's schema changes in place only in ways its consumers
can take without a change of their own.

Allowed: a new field that is optional; a new enum value; a new variant of a union.
Refused, each named by topic and field: a field removed or renamed, a field retyped, a
required field made optional, a new required field, an enum value or a union variant
removed, a fixed value changed. A breaking change gets a new topic (`….v2`) instead.
The schemas are compared with those of the last release (`schemas/released/`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RELEASED_DIR = Path(__file__).parent / "released"
Schema = dict[str, Any]


class _Doc:
    """One JSON Schema document: resolves its own `#/$defs/…` references."""

    def __init__(self, root: Schema) -> None:
        self.root = root

    def resolve(self, node: Schema) -> Schema:
        seen = 0
        while "$ref" in node and seen < 32:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"reference {ref!r} leaves the document")
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            node, seen = target, seen + 1
        return node

    def alternatives(self, node: Schema) -> Iterator[Schema]:
        """The plain schemas `node` is one of (through references, anyOf, oneOf)."""
        node = self.resolve(node)
        members = node.get("anyOf") or node.get("oneOf")
        if members:
            for member in members:
                yield from self.alternatives(member)
        else:
            yield node


def _kinds(node: Schema) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, list):
        return set(declared)
    if isinstance(declared, str):
        return {declared}
    values = node.get("enum", [node["const"]] if "const" in node else [])
    names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    return {names.get(type(v), "value") for v in values} or {"any"}


def _values(alts: list[Schema]) -> set[Any] | None:
    """The values a field is limited to (enum, const), or None when it is not limited."""
    found: set[Any] = set()
    for alt in alts:
        if "enum" in alt:
            found |= set(alt["enum"])
        elif "const" in alt:
            found.add(alt["const"])
        elif _kinds(alt) != {"null"}:
            return None
    return found


def _named(alts: list[Schema]) -> dict[str, Schema]:
    return {str(a.get("title", i)): a for i, a in enumerate(alts)}


class _Comparison:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old, self.new = _Doc(old), _Doc(new)
        self.problems: list[str] = []

    def field(self, path: str, old: Schema, new: Schema) -> None:
        old_alts, new_alts = list(self.old.alternatives(old)), list(self.new.alternatives(new))
        old_kinds = set().union(*(_kinds(a) for a in old_alts))
        new_kinds = set().union(*(_kinds(a) for a in new_alts))
        if old_kinds != new_kinds:
            self.problems.append(
                f"{path or 'the message'}: retyped from {'|'.join(sorted(old_kinds))} "
                f"to {'|'.join(sorted(new_kinds))}"
            )
            return
        was, now = _values(old_alts), _values(new_alts)
        if was is not None and now is not None and not was <= now:
            gone = ", ".join(repr(v) for v in sorted(was - now, key=str))
            self.problems.append(
                f"{path or 'the message'}: value(s) {gone} removed (values may only be added)"
            )
        old_objects = [a for a in old_alts if "object" in _kinds(a)]
        new_objects = [a for a in new_alts if "object" in _kinds(a)]
        if len(old_objects) == 1 and len(new_objects) == 1:
            self.object(path, old_objects[0], new_objects[0])
        elif old_objects:
            news = _named(new_objects)
            for name, variant in _named(old_objects).items():
                if name not in news:
                    self.problems.append(f"{path or 'the message'}: variant {name} removed")
                else:
                    self.object(f"{path}<{name}>", variant, news[name])
        old_items = [a["items"] for a in old_alts if "items" in a]
        new_items = [a["items"] for a in new_alts if "items" in a]
        if len(old_items) == 1 and len(new_items) == 1:
            self.field(f"{path}[]", old_items[0], new_items[0])

    def object(self, path: str, old: Schema, new: Schema) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        prefix = f"{path}." if path else ""
        for name, schema in old_props.items():
            where = f"{prefix}{name}"
            if name not in new_props:
                self.problems.append(f"{where}: removed or renamed (fields may only be added)")
                continue
            if name in old_req and name not in new_req:
                self.problems.append(f"{where}: was always present, now optional")
            self.field(where, schema, new_props[name])
        for name in new_props.keys() - old_props.keys():
            if name in new_req:
                self.problems.append(f"{prefix}{name}: new field is required (must be optional)")


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """What in `new` breaks a consumer of messages written against `old`, field by field."""
    comparison = _Comparison(old, new)
    comparison.field("", old, new)
    return comparison.problems


def released() -> dict[str, Schema]:
    """File name → schema of each topic in the last release."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(RELEASED_DIR.glob("*.schema.json"))
    }
