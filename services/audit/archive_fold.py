"""The archive as the topics say it should be: every archived event, once per `ce_id`, folded
with the analytics worker's own pure fold and applied with its own statements into a scratch
copy of its tables, then compared with the real archive column by column.

The scratch schema lives in the audit's transaction and goes with its rollback.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

from services.analytics.archive import apply
from services.analytics.fold import Archived, fold
from services.analytics.migrations import MIGRATIONS

CHUNK = 5000
IGNORED = ("updated_at",)
"""Columns that say when the archive wrote a row, not what it holds."""
KEYS = {"complaints": ("complaint_id",), "sla_targets": ("complaint_id", "target")}


@dataclass(frozen=True)
class Difference:
    table: str
    complaint_id: str
    key: str
    problem: str


class FoldedArchive:
    """Feed it the archived topics' events in topic order; it keeps the fold in `schema`."""

    def __init__(self, conn: psycopg.Connection, now: datetime) -> None:
        self.conn, self.now = conn, now
        self.schema = f"audit_{uuid.uuid4().hex[:12]}"
        conn.execute(f"CREATE SCHEMA {self.schema}")
        for _, sql in sorted(MIGRATIONS):
            conn.execute(sql.replace("{schema}", self.schema))  # type: ignore[arg-type]
        self._seen: set[int] = set()
        self._pending: list[Archived] = []
        self.events = 0

    def add(self, ce_id: str, model: Archived) -> None:
        """One event; a second copy of a `ce_id` (a replay) is skipped, as the archive does."""
        mark = hash(ce_id)
        if mark in self._seen:
            return
        self._seen.add(mark)
        self.events += 1
        self._pending.append(model)
        if len(self._pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            apply(self.conn, fold(self._pending), self.now, schema=self.schema)
            self._pending = []

    def differences(self) -> list[Difference]:
        """Rows of the archive that differ from the fold, and rows only one of them has."""
        self.flush()
        out: list[Difference] = []
        for table, keys in KEYS.items():
            out += self._compare(table, keys)
        return out

    def _compare(self, table: str, keys: tuple[str, ...]) -> list[Difference]:
        columns = [
            r[0]
            for r in self.conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'analytics' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            if r[0] not in IGNORED and r[0] not in keys
        ]
        differ = ", ".join(
            f"CASE WHEN a.{c} IS DISTINCT FROM s.{c} THEN '{c}' END" for c in columns
        )
        key_of = " || '/' || ".join(f"coalesce(a.{k}, s.{k})" for k in keys)
        rows = self.conn.execute(
            f"SELECT coalesce(a.complaint_id, s.complaint_id), {key_of},"
            f" a.{keys[0]} IS NULL, s.{keys[0]} IS NULL,"
            f" array_remove(ARRAY[{differ}]::text[], NULL)"
            f" FROM analytics.{table} a FULL JOIN {self.schema}.{table} s"
            f" ON {' AND '.join(f'a.{k} = s.{k}' for k in keys)}"
            f" WHERE a.{keys[0]} IS NULL OR s.{keys[0]} IS NULL"
            f" OR ({', '.join(f'a.{c}' for c in columns)}) IS DISTINCT FROM"
            f" ({', '.join(f's.{c}' for c in columns)})"
            f" ORDER BY 1, 2"
        ).fetchall()
        out = []
        for complaint_id, key, only_fold, only_archive, cols in rows:
            if only_fold:
                problem = "the topics have it, the archive does not"
            elif only_archive:
                problem = "the archive has it, the topics do not"
            else:
                problem = f"differs from the topics in {', '.join(cols)}"
            out.append(Difference(table, complaint_id, key, problem))
        return out
