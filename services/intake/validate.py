"""Validation of raw events: bytes in, a typed event out, or every reason it is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from schemas.raw import (
    RAW_EVENT_TYPES,
    CallbackPromised,
    NewComplaint,
    RawEvent,
    parse_raw_event,
)
from services.intake import normalize, pii
from services.kernel.errors import PoisonMessage

MAX_EVENT_BYTES = 400 * 1024
"""Largest raw event accepted: room for a 100,000-character complaint in Chinese (UTF-8), and
small enough that its dead letter (sealed, base64) and every event made from it fit in one
Kafka message (1 MB)."""
# NUL and C0 controls (but tab, newline, carriage return) break PostgreSQL text and consumers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What may be one escaped in a JSON string (`\u0000`); the decoded document decides.
_ESCAPED_CONTROL = re.compile(r"\\u00[01]", re.I)
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
MAX_FUTURE = timedelta(minutes=15)
"""Clock skew tolerated on a call center's event time."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest event time accepted: older is a typo, not a complaint, and every worker's
arithmetic (UTC conversion, business calendars, escalations) must hold for what we accept."""
MAX_PROMISE = timedelta(days=366)
"""Furthest a promised callback may lie after the promise was made."""


def _event_id(doc: object) -> str | None:
    if isinstance(doc, dict) and isinstance(doc.get("source"), str) and doc.get("event_id"):
        return f"{doc['source']}:{doc['event_id']}"
    return None


def parse(value: bytes | None, *, now: datetime) -> RawEvent:
    """The validated raw event, or PoisonMessage naming every problem found."""
    if not value:
        raise PoisonMessage("empty", ["message has no value"])
    if len(value) > MAX_EVENT_BYTES:
        raise PoisonMessage(
            "too_large", [f"event is {len(value)} bytes, the limit is {MAX_EVENT_BYTES}"]
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonMessage(
            "invalid_utf8", [f"not UTF-8 at byte {exc.start}: {exc.reason}"]
        ) from exc
    bad = _CONTROL.search(text)
    if bad is not None:
        raise PoisonMessage(
            "control_characters",
            [f"control character U+{ord(bad.group()):04X} at character {bad.start()}"],
        )
    if _ESCAPED_CONTROL.search(text):
        _refuse_escaped_controls(text)
    try:  # the common case: valid; the diagnosis below runs only for refused input
        return _checked(parse_raw_event(text), None, now)
    except ValidationError:
        pass
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PoisonMessage(
            "invalid_json", [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise PoisonMessage("invalid_json", [f"not JSON: {type(exc).__name__}"]) from exc
    event_id = _event_id(doc)
    if not isinstance(doc, dict):
        raise PoisonMessage("invalid_json", [f"expected a JSON object, got {type(doc).__name__}"])
    if doc.get("type") not in RAW_EVENT_TYPES:
        shown = _shown(str(doc.get("type"))[:40], _names_in(doc))
        raise PoisonMessage(
            "unknown_type",
            [f"type {shown!r} is not one of {', '.join(RAW_EVENT_TYPES)}"],
            event_id=event_id,
        )
    try:
        event = parse_raw_event(text)
    except ValidationError as exc:
        raise PoisonMessage(
            "validation",
            [
                f"{'.'.join(str(p) for p in e['loc'][1:]) or '(event)'}: "
                f"{_shown(e['msg'], _names_in(doc))}"
                for e in exc.errors()
            ],
            event_id=event_id,
        ) from exc
    return _checked(event, event_id, now)


def _shown(value: str, names: tuple[str, ...]) -> str:
    """A refused value as a reason may show it: dead letters and logs are read by operators,
    so contact data and the customer's name are redacted (the sealed original keeps them)."""
    return pii.redact(value[:40], names=names)


def _names_in(doc: dict[str, object]) -> tuple[str, ...]:
    customer = doc.get("customer")
    name = customer.get("name") if isinstance(customer, dict) else None
    return (name,) if isinstance(name, str) and name.strip() else ()


def _check_times(event: RawEvent, event_id: str) -> None:
    """Refuse times no worker can compute with: before EARLIEST, or a promise too far out."""
    errors: list[str] = []
    if event.occurred_at < EARLIEST:
        errors.append(f"occurred_at {event.occurred_at.isoformat()} is before {EARLIEST:%Y-%m-%d}")
    if isinstance(event, CallbackPromised):
        due = event.due_at
        if due < EARLIEST:
            errors.append(f"due_at {due.isoformat()} is before {EARLIEST:%Y-%m-%d}")
        elif not errors and due - event.occurred_at > MAX_PROMISE:
            errors.append(
                f"due_at {due.isoformat()} is more than {MAX_PROMISE.days} days after occurred_at"
            )
    if errors:
        raise PoisonMessage("invalid_time", errors, event_id=event_id)


def _refuse_escaped_controls(text: str) -> None:
    """Refuse a document whose strings (or keys) hold an escaped control character."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return  # not JSON: refused as such below
    found = [
        f"{where or '(event)'}: control character U+{ord(c):04X}" for where, c in _controls(doc, "")
    ]
    if found:
        raise PoisonMessage("control_characters", found[:20], event_id=_event_id(doc))


def _controls(doc: object, where: str) -> Iterator[tuple[str, str]]:
    """(field path, control character) of every string of `doc` that holds one."""
    stack: list[tuple[object, str]] = [(doc, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            bad = _CONTROL.search(node)
            if bad is not None:
                yield path, bad.group()
        elif isinstance(node, dict):
            for k, v in node.items():
                name = k if _FIELD.fullmatch(k) else "(field)"  # a key may be anything
                child = f"{path}.{name}" if path else name
                stack.append((k, child))
                stack.append((v, child))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))


def _checked(event: RawEvent, event_id: str | None, now: datetime) -> RawEvent:
    """The event, once its time, channel and language are acceptable."""
    event_id = event_id or f"{event.source}:{event.event_id}"
    if event.occurred_at - now > MAX_FUTURE:
        raise PoisonMessage(
            "future_time",
            [
                f"occurred_at {event.occurred_at.isoformat()} is more than "
                f"{int(MAX_FUTURE.total_seconds() // 60)} minutes in the future"
            ],
            event_id=event_id,
        )
    _check_times(event, event_id)
    errors: list[str] = []
    names = (
        (event.customer.name,) if isinstance(event, NewComplaint) and event.customer.name else ()
    )
    if normalize.channel(event.channel) is None:
        errors.append(f"channel {_shown(event.channel, names)!r} is not a known channel")
    if normalize.language(event.language) is None:
        shown = _shown(event.language, names)
        errors.append(f"language {shown!r} is not supported (zh-Hans, zh-Hant, en)")
    if errors:
        raise PoisonMessage("validation", errors, event_id=event_id)
    return event
