"""What the topics say, loaded into temporary tables of the audit's own transaction, so that
every check is a set-based query beside the workers' tables (nothing is kept in memory per
event, and nothing outlives the audit: its transaction is rolled back).

One row per message, replays included: the checks count distinct `ce_id`s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import ValidationError

from schemas.envelope import CloudEvent, complaint_id_for
from schemas.lifecycle import LifecycleEvent
from schemas.notifications import NotificationOutcome
from schemas.registered import RegisteredComplaint
from schemas.rejected import DeadLetter
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent
from services.audit.reading import Message

TABLES = """
CREATE TEMP TABLE a_raw (partition int, "offset" bigint, source text, event_id text,
    complaint_id text, replay_of text);
CREATE TEMP TABLE a_out (topic text, partition int, "offset" bigint, ce_id text,
    complaint_id text, kind text, source text, source_event_id text, version int,
    target text, deadline timestamptz, level int, pct int, notice_key text, audience text,
    channel text, outcome text);
CREATE TEMP TABLE a_dead (partition int, "offset" bigint, ce_id text, worker text, reason text,
    errors int, source_topic text, source_partition int, source_offset bigint,
    source_event_id text);
CREATE TEMP TABLE a_mail (message_id text, file text);
"""
INDEXES = """
CREATE INDEX ON a_raw (source, event_id);
CREATE INDEX ON a_raw (partition, "offset");
CREATE INDEX ON a_out (complaint_id);
CREATE INDEX ON a_out (source, source_event_id);
CREATE INDEX ON a_out (topic, partition, "offset");
CREATE INDEX ON a_out (notice_key);
CREATE INDEX ON a_dead (source_topic, source_partition, source_offset);
CREATE INDEX ON a_mail (message_id);
ANALYZE a_raw; ANALYZE a_out; ANALYZE a_dead; ANALYZE a_mail;
"""
OUT_COLUMNS = (
    'topic, partition, "offset", ce_id, complaint_id, kind, source, source_event_id, version,'
    " target, deadline, level, pct, notice_key, audience, channel, outcome"
)


@dataclass(frozen=True)
class Broken:
    """A message of ours the audit could not read: its envelope or value is broken."""

    topic: str
    partition: int
    offset: int
    problem: str


def create(conn: psycopg.Connection) -> None:
    conn.execute(TABLES)


def index(conn: psycopg.Connection) -> None:
    conn.execute(INDEXES)


REPLAY_OF = "cf_replay_of"
"""Header of a raw record sent again from a dead letter: the dead letter's `ce_id`."""
RAW_COLUMNS = 'partition, "offset", source, event_id, complaint_id, replay_of'


def raw_row(m: Message) -> tuple[object, ...]:
    """(partition, offset, source, event_id, complaint_id, replay_of) of a raw record, read as
    leniently as possible: what intake de-duplicates on, when the record names it at all."""
    source = event_id = complaint = None
    try:
        doc = json.loads(m.value or b"")
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict):
        source, event_id, ref = (_text(doc.get(k)) for k in ("source", "event_id", "complaint_ref"))
        if source and ref:
            complaint = complaint_id_for(source, ref)
    replay_of = next((v for k, v in m.headers if k == REPLAY_OF and v), None)
    return (m.partition, m.offset, source, event_id, complaint, _header(replay_of))


def _header(value: bytes | None) -> str | None:
    return value.decode("utf-8", "replace")[:256].replace("\x00", "") if value else None


MAX_ID = 256
"""Longer ids are no event's (intake's limits are far below): such a record is invalid."""


def _text(value: Any) -> str | None:
    """A string field as intake's models read it (surrounding space stripped), NUL-free."""
    if not isinstance(value, str) or len(value) > MAX_ID:
        return None
    return value.strip().replace("\x00", "") or None


def out_row(topic: str, m: Message, ce: CloudEvent, model: object) -> tuple[object, ...]:
    """The row of one message on a topic the archive keeps."""
    kind = source = source_event_id = target = notice_key = audience = channel = outcome = None
    version = level = pct = None
    deadline = None
    if isinstance(model, RegisteredComplaint):
        kind, source, source_event_id = "registered", model.source, model.source_event_id
    elif isinstance(model, LifecycleEvent):
        kind = f"status:{model.status.value}" if model.status else model.kind.value
        if model.kind.value == "recategorised" and not model.category:
            kind = "recategorised:none"
        source, source_event_id = model.source, model.source_event_id
    elif isinstance(model, RoutedComplaint):
        kind, version = "routed", model.version
    elif isinstance(model, SlaEvent):
        kind, target, deadline = model.kind.value, model.target.value, model.deadline
        level, pct = model.level, model.threshold_pct
    elif isinstance(model, NotificationOutcome):
        kind, notice_key, audience = model.kind, model.notification_key, model.audience.value
        channel, outcome = model.channel, model.outcome.value
    complaint_id = getattr(model, "complaint_id", None)
    return (
        topic,
        m.partition,
        m.offset,
        ce.id,
        complaint_id,
        kind,
        source,
        source_event_id,
        version,
        target,
        deadline,
        level,
        pct,
        notice_key,
        audience,
        channel,
        outcome,
    )


def dead_row(m: Message, ce: CloudEvent | None) -> tuple[object, ...] | Broken:
    try:
        d = DeadLetter.model_validate_json(m.value or b"")
    except ValidationError as exc:
        return Broken("complaints.rejected.v1", m.partition, m.offset, f"not a dead letter: {exc}")
    ce_id = ce.id if ce is not None else f"rejected-{m.partition}-{m.offset}"
    return (
        m.partition,
        m.offset,
        ce_id,
        d.worker,
        d.reason.strip() or None,
        len([e for e in d.errors if e.strip()]),
        d.source_topic,
        d.source_partition,
        d.source_offset,
        d.source_event_id,
    )


def copy(conn: psycopg.Connection, table: str, columns: str, rows: Iterable[tuple[object, ...]]):
    """COPY rows into a temporary table."""
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
