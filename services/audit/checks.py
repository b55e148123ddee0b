"""The balance checks: set-based queries over the topics' facts (the `a_*` temporary tables)
and the workers' own tables. Each returns how much it checked and what does not balance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from schemas.registry import LIFECYCLE, NOTIFICATIONS, RAW, REGISTERED, ROUTED, SLA
from services.audit.expectations import (
    DEFECTS,
    DELIVERED,
    HELD_REASONS,
    IMPLIED_NOTICES,
    PENDING,
    REROUTES,
)


@dataclass(frozen=True)
class Finding:
    check: str
    problem: str
    complaint_id: str | None = None
    where: str | None = None
    """`topic[partition]@offset` when the problem is one message."""


@dataclass
class Outcome:
    check: str
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None
    """Why the check could not run (a worker's tables missing, no mail folder)."""

    def add(self, problem: str, complaint_id: str | None = None, where: str | None = None) -> None:
        self.findings.append(Finding(self.check, problem, complaint_id, where))


def _rows(conn: psycopg.Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _one(conn: psycopg.Connection, sql: str, **params: Any) -> int:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row and row[0] is not None else 0


def has_table(conn: psycopg.Connection, name: str) -> bool:
    return (
        _one(
            conn, "SELECT count(*) FROM (SELECT to_regclass(%(n)s) r) x WHERE r IS NOT NULL", n=name
        )
        > 0
    )


def _at(topic: str, partition: int, offset: int) -> str:
    return f"{topic}[{partition}]@{offset}"


def raw_events(conn: psycopg.Connection) -> Outcome:
    """Every raw event is exactly one registered complaint, one applied lifecycle event, or one
    dead letter with a reason; copies of an event (same source and event id) count once, and
    so does an event sent again from its dead letter (`complaintflow dead-letters replay`). A
    follow-up intake holds for its complaint (`intake.pending`) is on its way to one of them."""
    out = Outcome("raw events")
    out.checked = _one(conn, "SELECT count(*) FROM a_raw")
    held = "SELECT source, event_id FROM intake.pending"
    if not has_table(conn, "intake.pending"):
        held = "SELECT NULL::text AS source, NULL::text AS event_id WHERE false"
    conn.execute(f"CREATE TEMP TABLE a_held AS {held}")
    common = """
        replayed AS (SELECT DISTINCT replay_of AS ce_id FROM a_raw WHERE replay_of IS NOT NULL),
        dead AS (SELECT source_partition AS partition, source_offset AS "offset",
                        count(DISTINCT ce_id) AS n,
                        bool_or(reason = ANY(%(held)s)
                                AND ce_id NOT IN (SELECT ce_id FROM replayed)) AS held
                   FROM a_dead WHERE source_topic = %(raw)s GROUP BY 1, 2),
        r AS (SELECT r.*, coalesce(d.n, 0) AS dead, coalesce(d.held, false) AS held
                FROM a_raw r LEFT JOIN dead d USING (partition, "offset")),
        acc AS (SELECT source, source_event_id AS event_id, count(DISTINCT ce_id) AS n,
                       min(complaint_id) AS complaint_id
                  FROM a_out WHERE topic IN (%(registered)s, %(lifecycle)s) GROUP BY 1, 2)"""
    params = dict(
        held=list(HELD_REASONS),
        raw=RAW.name,
        registered=REGISTERED.name,
        lifecycle=LIFECYCLE.name,
    )
    for cid, p, o, n in _rows(
        conn,
        f'WITH {common} SELECT complaint_id, partition, "offset", dead FROM r'
        " WHERE dead > 1 OR (dead = 0 AND (source IS NULL OR event_id IS NULL))"
        ' ORDER BY partition, "offset"',
        **params,
    ):
        problem = f"dead-lettered {n} times" if n > 1 else "not valid, yet no dead letter: lost"
        out.add(problem, cid, _at(RAW.name, p, o))
    for cid, source, event_id, p, o, copies, _, _, n in _rows(
        conn,
        f"WITH {common}, g AS (SELECT source, event_id, min(complaint_id) AS complaint_id,"
        ' min(partition) AS partition, min("offset") AS "offset", count(*) AS copies,'
        " count(*) FILTER (WHERE dead = 0) AS undead, bool_or(held) AS held"
        " FROM r WHERE source IS NOT NULL AND event_id IS NOT NULL GROUP BY 1, 2)"
        " SELECT coalesce(g.complaint_id, acc.complaint_id), source, event_id, g.partition,"
        ' g."offset", coalesce(copies, 0), coalesce(undead, 0), coalesce(held, false),'
        " coalesce(acc.n, 0) FROM g FULL JOIN acc USING (source, event_id)"
        " WHERE g.source IS NULL OR acc.n > 1"
        " OR (acc.n = 1 AND g.undead = 0)"
        " OR (acc.n IS NULL AND g.undead > 0 AND NOT g.held AND NOT EXISTS"
        "  (SELECT 1 FROM a_held h WHERE h.source = g.source AND h.event_id = g.event_id))"
        " ORDER BY 1, 2, 3",
        **params,
    ):
        where = _at(RAW.name, p, o) if p is not None else None
        what = f"event {source}/{event_id}"
        if copies == 0:
            out.add(f"{what} was applied but never sent (no raw event)", cid)
        elif n > 1:
            out.add(f"{what} applied {n} times", cid, where)
        elif n == 1:
            out.add(f"{what} applied and also dead-lettered", cid, where)
        else:
            copies_note = f" ({copies} copies)" if copies > 1 else ""
            out.add(f"{what}{copies_note}: neither applied nor dead-lettered: lost", cid, where)
    return out


def dead_letters(conn: psycopg.Connection) -> Outcome:
    """Every dead letter names a reason, and none is a defect (a record a worker failed on
    again and again): bad input is refused with a reason, never by a crash."""
    out = Outcome("dead letters")
    out.checked = _one(conn, "SELECT count(DISTINCT ce_id) FROM a_dead")
    for worker, reason, errors, topic, sp, so, cid in _rows(
        conn,
        "SELECT DISTINCT ON (d.ce_id) d.worker, d.reason, d.errors, d.source_topic,"
        " d.source_partition, d.source_offset, coalesce(o.complaint_id, r.complaint_id)"
        " FROM a_dead d"
        " LEFT JOIN a_out o ON o.topic = d.source_topic AND o.partition = d.source_partition"
        ' AND o."offset" = d.source_offset'
        " LEFT JOIN a_raw r ON d.source_topic = %(raw)s AND r.partition = d.source_partition"
        ' AND r."offset" = d.source_offset'
        " WHERE d.reason IS NULL OR d.errors = 0 OR d.reason = ANY(%(defects)s)"
        " ORDER BY d.ce_id",
        raw=RAW.name,
        defects=list(DEFECTS),
    ):
        source = _at(topic, sp, so)
        if reason is None or errors == 0:
            out.add(f"dead letter of {source} by {worker} gives no reason", cid, source)
        else:
            out.add(f"{worker} failed on {source} until it gave up ({reason}): a defect", cid)
    return out


def routing(conn: psycopg.Connection) -> Outcome:
    """Every registered complaint has a first routing decision, and one more per change that
    re-routes it (transfer, recategorisation, reopen), each version decided once."""
    out = Outcome("routing")
    for cid, registered, versions, top, decisions, changes, refused in _rows(
        conn,
        "WITH reg AS (SELECT DISTINCT complaint_id FROM a_out WHERE topic = %(registered)s),"
        " changes AS (SELECT complaint_id, count(DISTINCT ce_id) AS n FROM a_out"
        "  WHERE topic = %(lifecycle)s AND kind = ANY(%(reroutes)s) GROUP BY 1),"
        " refused AS (SELECT o.complaint_id, count(DISTINCT d.ce_id) AS n FROM a_dead d"
        '  JOIN (SELECT DISTINCT complaint_id, partition, "offset" FROM a_out'
        "   WHERE topic = %(lifecycle)s AND kind = ANY(%(reroutes)s)) o"
        "  ON d.source_topic = %(lifecycle)s AND d.worker = 'routing'"
        '  AND d.source_partition = o.partition AND d.source_offset = o."offset" GROUP BY 1),'
        " routed AS (SELECT complaint_id, count(DISTINCT version) AS versions,"
        "  max(version) AS top, count(DISTINCT ce_id) AS decisions FROM a_out"
        "  WHERE topic = %(routed)s GROUP BY 1)"
        " SELECT complaint_id, reg.complaint_id IS NOT NULL, coalesce(versions, 0),"
        " coalesce(top, 0), coalesce(decisions, 0), coalesce(changes.n, 0),"
        " coalesce(refused.n, 0)"
        " FROM reg FULL JOIN routed USING (complaint_id)"
        " LEFT JOIN changes USING (complaint_id) LEFT JOIN refused USING (complaint_id)"
        " ORDER BY 1",
        registered=REGISTERED.name,
        lifecycle=LIFECYCLE.name,
        routed=ROUTED.name,
        reroutes=list(REROUTES),
    ):
        out.checked += 1
        expected = 1 + changes - refused
        if not registered:
            out.add("routed but never registered", cid)
        elif versions == 0:
            out.add("registered but never routed", cid)
            continue
        if decisions > versions:
            out.add(
                f"{decisions} routing decisions for {versions} versions: one decided twice", cid
            )
        if top != versions:
            out.add(f"routing versions skip: {versions} versions up to v{top}", cid)
        if registered and versions < expected:
            out.add(
                f"{expected - versions} change(s) never re-routed ({versions} of {expected})", cid
            )
        elif registered and versions > expected:
            out.add(
                f"{versions} routing versions for {expected} decisions the history implies", cid
            )
    return out


def sla(conn: psycopg.Connection, *, cutoff: datetime) -> Outcome:
    """Every routed complaint is on its SLA clocks; every clock that started was published;
    nothing due before `cutoff` is left unfired (no missing warning, breach or escalation);
    the timers' breaches and escalations are on the topic; none fired twice per complaint,
    target and level in one run of its clock (a start or a resume begins one: a clock the
    real clock breached before an earlier-dated pause was read breaches again, if at all,
    against the deadline its resume sets)."""
    out = Outcome("sla")
    if not has_table(conn, "sla_timer.timers"):
        out.skipped = "no sla_timer.timers table (the SLA timer never ran here)"
        return out
    out.checked = _one(conn, "SELECT count(*) FROM sla_timer.timers")
    for (cid,) in _rows(
        conn,
        "SELECT DISTINCT o.complaint_id FROM a_out o WHERE o.topic = %(routed)s AND NOT EXISTS"
        " (SELECT 1 FROM sla_timer.timers t WHERE t.complaint_id = o.complaint_id) ORDER BY 1",
        routed=ROUTED.name,
    ):
        out.add("routed but on no SLA clock", cid)
    for cid, target, state, level, next_due, started, breached, escalated in _rows(
        conn,
        "WITH ev AS (SELECT complaint_id, target, bool_or(kind = 'started') AS started,"
        "  coalesce(array_agg(deadline) FILTER (WHERE kind = 'breached'), '{}') AS breaches,"
        "  coalesce(array_agg(level) FILTER (WHERE kind = 'escalated'), '{}') AS levels"
        "  FROM a_out WHERE topic = %(sla)s GROUP BY 1, 2),"
        " t AS (SELECT t.complaint_id, t.target, t.state, t.escalation_level AS level,"
        "  t.next_due, coalesce(ev.started, false) AS started,"
        "  t.deadline = ANY(coalesce(ev.breaches, '{}')) AS breached,"
        "  t.escalation_level = ANY(coalesce(ev.levels, '{}')) AS escalated"
        "  FROM sla_timer.timers t LEFT JOIN ev USING (complaint_id, target)"
        "  WHERE t.policy <> 'none')"
        " SELECT * FROM t WHERE (NOT started AND state IN ('active', 'paused', 'breached'))"
        " OR next_due < %(cutoff)s"
        " OR (state = 'breached' AND NOT breached) OR (level > 0 AND NOT escalated)"
        " ORDER BY 1, 2",
        sla=SLA.name,
        cutoff=cutoff,
    ):
        if not started and state in ("active", "paused", "breached"):
            out.add(f"{target}: clock kept in the timers, its start never published", cid)
        if next_due is not None and next_due < cutoff:
            out.add(f"{target}: a step due at {next_due:%Y-%m-%d %H:%M:%S}Z never fired", cid)
        if state == "breached" and not breached:
            out.add(f"{target}: breached in the timers, no breach on the topic", cid)
        if level and not escalated:
            out.add(f"{target}: escalated to level {level} in the timers, not on the topic", cid)
    for cid, target, _, kind, level, n in _rows(
        conn,
        "WITH s AS (SELECT DISTINCT ON (ce_id) * FROM a_out WHERE topic = %(sla)s"
        '  ORDER BY ce_id, partition, "offset"),'
        " e AS (SELECT *, count(*) FILTER (WHERE kind IN ('started', 'resumed')) OVER (PARTITION BY"
        '  complaint_id, target ORDER BY partition, "offset") AS episode FROM s)'
        " SELECT complaint_id, target, episode, kind, coalesce(level, 0), count(*) FROM e"
        " WHERE kind IN ('breached', 'escalated') GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1"
        " ORDER BY 1, 2",
        sla=SLA.name,
    ):
        what = "breached" if kind == "breached" else f"escalated to level {level}"
        out.add(f"{target}: {what} {n} times in one run of its clock", cid)
    return out


def notifications(conn: psycopg.Connection, *, cutoff: datetime, mail: bool) -> Outcome:
    """Every notice the history implies is recorded once; every recorded notice's outcome is
    published; an email notice sent is in the mail catcher exactly once (`unknown`: at most
    once), any other none; nothing is still waiting past its time; no mail nobody recorded."""
    out = Outcome("notifications")
    if not has_table(conn, "notification.outbox"):
        out.skipped = "no notification.outbox table (the notification worker never ran here)"
        return out
    out.checked = _one(conn, "SELECT count(*) FROM notification.outbox")
    for implied in IMPLIED_NOTICES:
        for (cid,) in _rows(
            conn,
            "SELECT DISTINCT o.complaint_id FROM a_out o WHERE o.topic = %(topic)s"
            " AND o.kind = %(on)s AND NOT EXISTS (SELECT 1 FROM notification.outbox n"
            "  WHERE n.complaint_id = o.complaint_id AND n.kind = %(kind)s"
            "  AND n.audience = %(audience)s) ORDER BY 1",
            topic=implied.topic,
            on=implied.on,
            kind=implied.kind,
            audience=implied.audience,
        ):
            out.add(f"no {implied.kind} to the {implied.audience} was recorded", cid)
    for _, cid, kind, channel, state, next_at, published, mails in _rows(
        conn,
        "WITH last AS (SELECT DISTINCT ON (notice_key) notice_key, outcome FROM a_out"
        '  WHERE topic = %(topic)s ORDER BY notice_key, partition, "offset" DESC),'
        " mails AS (SELECT k.notice_key, count(*) AS n FROM a_keys k"
        "  JOIN a_mail m ON m.message_id = k.message_id GROUP BY 1)"
        " SELECT n.notification_key, n.complaint_id, n.kind, n.channel, n.state,"
        " n.next_attempt_at, last.outcome, coalesce(mails.n, 0)"
        " FROM notification.outbox n LEFT JOIN last ON last.notice_key = n.notification_key"
        " LEFT JOIN mails ON mails.notice_key = n.notification_key ORDER BY 2, 1",
        topic=NOTIFICATIONS.name,
    ):
        if state in PENDING:
            if next_at is None or next_at < cutoff:
                out.add(f"{kind} ({channel}) still {state}: never delivered", cid)
            continue
        if published is None:
            out.add(f"{kind} ({channel}) recorded, its outcome never published", cid)
        elif published != state:
            out.add(f"{kind} ({channel}) is {state}, the topic says {published}", cid)
        if mail and channel == "email":
            low, high = DELIVERED.get(state, (0, 0))
            if not low <= mails <= high:
                out.add(f"{kind} is {state} but the mail server got it {mails} times", cid)
    for _, cid, kind in _rows(
        conn,
        "SELECT DISTINCT o.notice_key, o.complaint_id, o.kind FROM a_out o"
        " WHERE o.topic = %(topic)s AND NOT EXISTS (SELECT 1 FROM notification.outbox n"
        "  WHERE n.notification_key = o.notice_key) ORDER BY 2, 1",
        topic=NOTIFICATIONS.name,
    ):
        out.add(f"{kind} published but not in the outbox", cid)
    if mail:
        for file, message_id in _rows(
            conn,
            "SELECT m.file, m.message_id FROM a_mail m WHERE NOT EXISTS"
            " (SELECT 1 FROM a_keys k WHERE k.message_id = m.message_id) ORDER BY 1",
        ):
            out.add(f"mail {file} (Message-ID {message_id}) matches no recorded notice")
    return out
