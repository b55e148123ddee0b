"""Routing's tables: the latest decision per complaint, which is also the owners' open load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from services.kernel.db import JsonRows
from services.routing.decision import Decision


def open_load(conn: psycopg.Connection) -> Counter[str]:
    """Open complaints per owner, as every routing instance sees them (the decisions table is
    the only record of it: no counter in memory to drift on a retried batch).

    Agents own at most their capacity, so this counts a few hundred rows of a partial index.
    """
    return Counter(
        dict(
            conn.execute(
                "SELECT owner, count(*) FROM routing.decisions WHERE open AND owner IS NOT NULL"
                " GROUP BY owner"
            ).fetchall()
        )
    )


def open_counts(conn: psycopg.Connection) -> list[tuple[str, str, int]]:
    """(department, priority, open complaints) for the open-complaints gauge."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT department, priority, count(*) FROM routing.decisions"
            " WHERE open AND decision IS NOT NULL GROUP BY 1, 2"
        ).fetchall()
    ]


@dataclass(frozen=True)
class HeldChange:
    """A transfer, correction or reopen that came before the complaint's first decision."""

    cause: str
    complaint_id: str
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]]
    held_at: datetime


# --- a poll at once -----------------------------------------------------------------------


@dataclass
class Row:
    """A complaint's row of `routing.decisions`, as a poll sees and changes it."""

    decision: Any
    """The decision as stored (its JSON), None before the first (a complaint closed first)."""
    open: bool
    source: str | None
    owner: str | None = None
    version: int = 0
    department: str | None = None
    priority: str | None = None
    occurred_at: datetime | None = None
    """Written when the row is new only (like `save` and `close`, an update keeps it)."""
    updated_at: datetime | None = None


@dataclass
class Poll:
    """The routing tables of one poll's complaints, read in one statement per table, changed
    record by record in memory (each record sees the ones before it, as the database would
    show them), and written back in one statement per table by `write`.

    Owners' open load is read once and kept up to date as decisions are made and complaints
    closed, so it is the figure the database would give at each record.
    """

    rows: dict[str, Row]
    load: Counter[str]
    held: dict[str, list[HeldChange]]
    applied: set[str]
    changed: dict[str, Row] = field(default_factory=dict)
    new_applied: list[tuple[str, str, datetime]] = field(default_factory=list)
    held_of: set[str] = field(default_factory=set)
    """Complaints whose held changes are in `held` (read from the table and deleted there,
    or held by this poll): what is still held of them is written back."""

    @classmethod
    def read(
        cls,
        conn: psycopg.Connection,
        complaint_ids: Iterable[str],
        *,
        registered: Iterable[str],
        causes: Iterable[str],
    ) -> Poll:
        """The rows of `complaint_ids`; the held changes of the `registered` complaints not
        yet decided (taken out of the hold: their first decision is made in this poll); which
        of `causes` (and of those held changes) were applied before."""
        ids = list(set(complaint_ids))
        rows: dict[str, Row] = {}
        if ids:
            for r in conn.execute(
                "SELECT complaint_id, decision, open, source, owner, version, department,"
                " priority FROM routing.decisions WHERE complaint_id = ANY(%s)",
                (ids,),
            ).fetchall():
                rows[r[0]] = Row(r[1], r[2], r[3], r[4], r[5], r[6], r[7])
        undecided = list({c for c in registered if c not in rows or rows[c].decision is None})
        held: dict[str, list[HeldChange]] = {}
        for h in _release_many(conn, undecided):
            held.setdefault(h.complaint_id, []).append(h)
        wanted = list(set(causes) | {h.cause for hs in held.values() for h in hs})
        applied: set[str] = set()
        if wanted:
            applied = {
                r[0]
                for r in conn.execute(
                    "SELECT cause FROM routing.applied_changes WHERE cause = ANY(%s)", (wanted,)
                ).fetchall()
            }
        return cls(rows, open_load(conn), held, applied, held_of=set(undecided))

    def decision_of(self, complaint_id: str) -> tuple[Any, bool, str | None] | None:
        """As `decision_of` reads it."""
        row = self.rows.get(complaint_id)
        return None if row is None else (row.decision, row.open, row.source)

    def _put(self, complaint_id: str, row: Row) -> None:
        before = self.rows.get(complaint_id)
        if before is not None and before.open and before.owner is not None:
            self.load[before.owner] -= 1
            if self.load[before.owner] <= 0:
                del self.load[before.owner]
        if row.open and row.owner is not None:
            self.load[row.owner] += 1
        self.rows[complaint_id] = self.changed[complaint_id] = row

    def save(
        self,
        complaint_id: str,
        d: Decision,
        *,
        is_open: bool,
        occurred_at: datetime,
        now: datetime,
        source: str | None,
    ) -> None:
        """As `save` does."""
        before = self.rows.get(complaint_id)
        row = Row(
            d.model_dump(mode="json"),
            is_open,
            source,
            owner=d.owner,
            version=d.version,
            department=d.department,
            priority=d.priority.value,
            occurred_at=occurred_at if before is None else before.occurred_at,
            updated_at=now,
        )
        self._put(complaint_id, row)

    def close(self, complaint_id: str, now: datetime) -> None:
        """As `close` does."""
        before = self.rows.get(complaint_id)
        if before is None:
            self._put(complaint_id, Row(None, False, None, updated_at=now))
        elif before.open:
            self._put(
                complaint_id,
                Row(
                    before.decision,
                    False,
                    before.source,
                    before.owner,
                    before.version,
                    before.department,
                    before.priority,
                    before.occurred_at,
                    now,
                ),
            )

    def first_application(self, cause: str, complaint_id: str, now: datetime) -> bool:
        """As `first_application` does."""
        if cause in self.applied:
            return False
        self.applied.add(cause)
        self.new_applied.append((cause, complaint_id, now))
        return True

    def hold_change(self, h: HeldChange) -> None:
        """As `hold_change` does (the headers as the table gives them back)."""
        held = self.held.setdefault(h.complaint_id, [])
        self.held_of.add(h.complaint_id)
        if any(x.cause == h.cause for x in held):
            return
        headers = [(k, v.decode("utf-8", "replace").encode()) for k, v in h.headers]
        held.append(HeldChange(**{**h.__dict__, "headers": headers}))

    def release_changes(self, complaint_id: str) -> list[HeldChange]:
        """As `release_changes` does."""
        held = self.held.pop(complaint_id, [])
        return sorted(held, key=lambda h: (h.partition, h.offset))

    def write(self, conn: psycopg.Connection) -> None:
        """Every change of the poll, one statement per table."""
        if self.changed:
            conn.execute(
                "INSERT INTO routing.decisions (complaint_id, version, owner, department,"
                " priority, open, decision, occurred_at, updated_at, source)"
                f" SELECT * FROM {_DECISIONS}"
                " ON CONFLICT (complaint_id) DO UPDATE SET version = EXCLUDED.version,"
                " owner = EXCLUDED.owner, department = EXCLUDED.department,"
                " priority = EXCLUDED.priority, open = EXCLUDED.open,"
                " decision = EXCLUDED.decision, updated_at = EXCLUDED.updated_at,"
                " source = EXCLUDED.source",
                (
                    _DECISIONS.param(
                        (
                            c,
                            r.version,
                            r.owner,
                            r.department,
                            r.priority,
                            r.open,
                            r.decision,
                            r.occurred_at,
                            r.updated_at,
                            r.source,
                        )
                        for c, r in self.changed.items()
                    ),
                ),
            )
        if self.new_applied:
            conn.execute(
                "INSERT INTO routing.applied_changes (cause, complaint_id, applied_at)"
                f" SELECT * FROM {_APPLIED} ON CONFLICT DO NOTHING",
                (_APPLIED.param(self.new_applied),),
            )
        still = [h for c in self.held_of for h in self.held.get(c, [])]
        if still:
            conn.execute(
                "INSERT INTO routing.pending_changes (cause, complaint_id, topic, partition,"
                f' "offset", value, headers, held_at) SELECT * FROM {_PENDING}'
                " ON CONFLICT (cause) DO NOTHING",
                (
                    _PENDING.param(
                        (
                            h.cause,
                            h.complaint_id,
                            h.topic,
                            h.partition,
                            h.offset,
                            h.value,
                            _headers_json(h.headers),
                            h.held_at,
                        )
                        for h in still
                    ),
                ),
            )
        self.changed, self.new_applied = {}, []


_DECISIONS = JsonRows(
    "d",
    "complaint_id text, version int, owner text, department text, priority text, open bool,"
    " decision jsonb, occurred_at timestamptz, updated_at timestamptz, source text",
)
_APPLIED = JsonRows("a", "cause text, complaint_id text, applied_at timestamptz")
_PENDING = JsonRows(
    "p",
    'cause text, complaint_id text, topic text, partition int, "offset" bigint, value bytea,'
    " headers jsonb, held_at timestamptz",
)


def _headers_json(headers: list[tuple[str, bytes]]) -> list[list[str]]:
    return [[k, v.decode("utf-8", "replace")] for k, v in headers]


def _release_many(conn: psycopg.Connection, complaint_ids: list[str]) -> list[HeldChange]:
    """The held changes of these complaints, removed from the hold."""
    if not complaint_ids:
        return []
    rows = conn.execute(
        "DELETE FROM routing.pending_changes WHERE complaint_id = ANY(%s) RETURNING cause,"
        ' complaint_id, topic, partition, "offset", value, headers, held_at',
        (complaint_ids,),
    ).fetchall()
    return [_held(r) for r in rows]


def _held(r: tuple[Any, ...]) -> HeldChange:
    return HeldChange(
        r[0], r[1], r[2], r[3], r[4], bytes(r[5]), [(k, v.encode()) for k, v in r[6]], r[7]
    )
