"""The audit: read every topic to the cut taken at the start, load what they say beside the
workers' tables, run the balance checks and fold the archive — all in one transaction that
is rolled back, so the audit changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from schemas.envelope import CloudEvent
from schemas.registry import ALERTS, RAW, REJECTED, TopicSpec
from services.audit import checks, facts
from services.audit.archive_fold import FoldedArchive
from services.audit.checks import Outcome
from services.audit.mailbox import key_ids, message_ids
from services.audit.reading import Message, end_offsets, read_topic
from services.commands.workers import WORKERS, handler_class
from services.kernel.settings import Settings

BOOKKEEPERS = tuple(name for name in WORKERS if name != "early_warning")
"""The workers whose work the books account for. The early-warning detector's alerts are
evidence for managers, not a record any complaint depends on: it is not waited for."""
CHUNK = 5000
Progress = Callable[[str, int, int], None]
"""(topic, messages read now, messages in all) as reading goes on."""


@dataclass
class Report:
    as_of: datetime
    cutoff: datetime
    read: dict[str, int] = field(default_factory=dict)
    """Messages read per topic."""
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    """How long the audit took."""
    references: dict[str, str] = field(default_factory=dict)
    """Our reference (CF-XXXX-XXXX) of each complaint with a finding, where intake knows it."""

    @property
    def balanced(self) -> bool:
        return not any(o.findings for o in self.outcomes)


def archived_topics() -> list[TopicSpec]:
    """What the archive keeps as complaints' history: the analytics worker's inputs but the
    early warnings (kept apart, one row per episode)."""
    return [spec for spec in handler_class("analytics").inputs if spec is not ALERTS]


def audited_topics() -> list[TopicSpec]:
    return [RAW, REJECTED, *archived_topics()]


def caught_up(settings: Settings) -> bool:
    """Whether every worker has committed all of its inputs as they end now (cheap: no
    topic is read)."""
    return not drained_outcome(settings, end_offsets(settings, audited_topics())).findings


def audit(
    settings: Settings,
    *,
    as_of: datetime,
    grace: timedelta,
    mail_dir: Path | None,
    progress: Progress = lambda topic, n, total: None,
) -> Report:
    """The balance of the books up to the topics' end offsets now."""
    began = time.monotonic()
    report = Report(as_of=as_of, cutoff=as_of - grace)
    archived = archived_topics()
    ends = end_offsets(settings, audited_topics())
    drained = drained_outcome(settings, ends)
    with psycopg.connect(settings.db_url(), autocommit=False) as conn:
        try:
            facts.create(conn)
            fold = FoldedArchive(conn, as_of)
            broken: list[facts.Broken] = []
            for spec in audited_topics():
                report.read[spec.name] = _load(
                    conn, settings, spec, ends[spec.name], fold, broken, progress, archived
                )
            _load_mail(conn, mail_dir)
            facts.index(conn)
            report.outcomes = [
                drained,
                checks.raw_events(conn),
                checks.dead_letters(conn),
                checks.routing(conn),
                checks.sla(conn, cutoff=report.cutoff),
                checks.notifications(conn, cutoff=report.cutoff, mail=mail_dir is not None),
                _archive(conn, fold, broken),
            ]
            if mail_dir is None:
                report.outcomes[5].skipped = (
                    report.outcomes[5].skipped or "mail delivery not checked (no mail folder)"
                )
            report.references = _references(conn, report)
        finally:
            conn.rollback()
    report.seconds = time.monotonic() - began
    return report


def _references(conn: psycopg.Connection, report: Report) -> dict[str, str]:
    ids = sorted({f.complaint_id for o in report.outcomes for f in o.findings if f.complaint_id})
    if not ids or not checks.has_table(conn, "intake.complaints"):
        return {}
    rows = conn.execute(
        "SELECT complaint_id, reference FROM intake.complaints"
        " WHERE complaint_id = ANY(%s) AND reference IS NOT NULL",
        (ids,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _load(
    conn: psycopg.Connection,
    settings: Settings,
    spec: TopicSpec,
    ends: dict[int, int],
    fold: FoldedArchive,
    broken: list[facts.Broken],
    progress: Progress,
    archived: list[TopicSpec],
) -> int:
    total = sum(ends.values())
    read = 0

    def advanced(n: int) -> None:
        nonlocal read
        read += n
        progress(spec.name, read, total)

    chunk: list[Message] = []
    for m in read_topic(settings, spec, ends, advanced=advanced):
        chunk.append(m)
        if len(chunk) >= CHUNK:
            _chunk(conn, spec, chunk, fold, broken, archived)
            chunk = []
    _chunk(conn, spec, chunk, fold, broken, archived)
    progress(spec.name, read, read)
    return read


def _chunk(
    conn: psycopg.Connection,
    spec: TopicSpec,
    chunk: list[Message],
    fold: FoldedArchive,
    broken: list[facts.Broken],
    archived: list[TopicSpec],
) -> None:
    if spec.name == RAW.name:
        facts.copy(conn, "a_raw", facts.RAW_COLUMNS, (facts.raw_row(m) for m in chunk))
        return
    if spec.name == REJECTED.name:
        rows = []
        for m in chunk:
            row = facts.dead_row(m, CloudEvent.from_headers(m.headers))
            (broken.append(row) if isinstance(row, facts.Broken) else rows.append(row))
        facts.copy(
            conn,
            "a_dead",
            'partition, "offset", ce_id, worker, reason, errors, source_topic, source_partition,'
            " source_offset, source_event_id",
            rows,
        )
        return
    out_rows, models = [], []
    adapter = spec.adapter()
    for m in chunk:
        ce = CloudEvent.from_headers(m.headers)
        if ce is None:
            broken.append(facts.Broken(spec.name, m.partition, m.offset, "no CloudEvents headers"))
            continue
        try:
            model = adapter.validate_json(m.value or b"")
        except ValueError as exc:
            broken.append(facts.Broken(spec.name, m.partition, m.offset, f"invalid value: {exc}"))
            continue
        out_rows.append(facts.out_row(spec.name, m, ce, model))
        models.append((ce.id, model))
    facts.copy(conn, "a_out", facts.OUT_COLUMNS, out_rows)
    if spec in archived:
        for ce_id, model in models:
            fold.add(ce_id, model)  # type: ignore[arg-type]


def _load_mail(conn: psycopg.Connection, mail_dir: Path | None) -> None:
    conn.execute("CREATE TEMP TABLE a_keys (notice_key text, message_id text)")
    keys = {
        r[0]
        for r in conn.execute("SELECT DISTINCT notice_key FROM a_out WHERE notice_key IS NOT NULL")
    }
    if checks.has_table(conn, "notification.outbox"):
        keys |= {r[0] for r in conn.execute("SELECT notification_key FROM notification.outbox")}
    facts.copy(conn, "a_keys", "notice_key, message_id", key_ids(keys))
    conn.execute("CREATE INDEX ON a_keys (message_id)")
    if mail_dir is not None:
        facts.copy(conn, "a_mail", "message_id, file", message_ids(mail_dir))


def _archive(
    conn: psycopg.Connection, fold: FoldedArchive, broken: Iterable[facts.Broken]
) -> Outcome:
    """The archive equals a fold of the topics: every event once, every row as folded."""
    out = Outcome("archive")
    for b in broken:
        out.add(
            f"unreadable message: {b.problem[:200]}", where=f"{b.topic}[{b.partition}]@{b.offset}"
        )
    if not checks.has_table(conn, "analytics.complaints"):
        out.skipped = "no analytics tables (the analytics worker never ran here)"
        return out
    out.checked = fold.events
    topics = [s.name for s in archived_topics()]
    for cid, topic, n_missing, n_extra in conn.execute(
        "WITH t AS (SELECT DISTINCT ce_id, topic, complaint_id FROM a_out WHERE topic = ANY(%s)),"
        " a AS (SELECT ce_id, topic, complaint_id FROM analytics.events WHERE topic = ANY(%s))"
        " SELECT coalesce(t.complaint_id, a.complaint_id), coalesce(t.topic, a.topic),"
        " count(*) FILTER (WHERE a.ce_id IS NULL), count(*) FILTER (WHERE t.ce_id IS NULL)"
        " FROM t FULL JOIN a USING (ce_id) WHERE t.ce_id IS NULL OR a.ce_id IS NULL"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        (topics, topics),
    ).fetchall():
        if n_missing:
            out.add(f"{n_missing} event(s) of {topic} not in the archive's history", cid)
        if n_extra:
            out.add(f"{n_extra} archived event(s) of {topic} not on the topic", cid)
    for d in fold.differences():
        out.add(f"{d.table} {d.key}: {d.problem}", d.complaint_id)
    return out


def drained_outcome(settings: Settings, ends: dict[str, dict[int, int]]) -> Outcome:
    """Each worker has committed every record of its inputs up to the cut: else what it has
    not yet done shows as imbalance below, and this says why."""
    out = Outcome("drained")
    admin = KafkaAdminClient(**settings.kafka("complaintflow-audit").as_dict())
    try:
        for name in BOOKKEEPERS:
            group = settings.group(name)
            try:
                offsets = admin.list_group_offsets(group).get(group, {})
            except KafkaError as exc:
                out.add(f"{name}: committed offsets unreadable ({type(exc).__name__})")
                continue
            committed = {(tp.topic, tp.partition): o.offset for tp, o in offsets.items()}
            for spec in handler_class(name).inputs:
                out.checked += 1
                topic = settings.topic(spec.name)
                behind = sum(
                    max(0, end - max(committed.get((topic, p), 0), 0))
                    for p, end in ends.get(spec.name, {}).items()
                )
                if behind:
                    out.add(f"{name} has not finished {behind:,} record(s) of {spec.name}")
    finally:
        admin.close()
    return out
