"""Read-only views of the complaint archive for the `show` and `list` commands."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg

from schemas.raw import coordinates
from services.analytics.business_time import Calendars, calendars

COLUMNS = (
    "complaint_id",
    "reference",
    "source",
    "external_ref",
    "category",
    "channel",
    "language",
    "region",
    "place",
    "product",
    "status",
    "department",
    "queue",
    "priority",
    "sensitive",
    "repeat_count",
    "occurred_at",
    "registered_at",
    "acknowledged_at",
    "resolved_at",
    "sla_deadline",
    "sla_breached",
    "escalation_level",
    "notifications",
    "csat",
    "csat_comment",
    "reopen_count",
    "root_cause",
    "corrective_action",
    "preventive_action",
    "compensation_amount",
    "compensation_currency",
)


def find_one(conn: psycopg.Connection, key: str) -> dict[str, object] | None:
    """A complaint's archived state by complaint id or reference."""
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM analytics.complaints"
        " WHERE complaint_id = %s OR reference = %s LIMIT 1",
        (key, key.upper()),
    ).fetchone()
    if row is None:
        return None
    found = dict(zip(COLUMNS, row, strict=True))
    shown = conn.execute(
        "SELECT display FROM analytics.category_names WHERE category = %s", (found["category"],)
    ).fetchone()
    found["category_display"] = dict(shown[0]) if shown else {}
    return found


TARGET_FIELDS = (
    "target",
    "state",
    "deadline",
    "breached",
    "escalation_level",
    "elapsed_seconds",
    "met_at",
)


def sla_targets(
    conn: psycopg.Connection, complaint_id: str, business: Calendars | None = None
) -> list[dict[str, Any]]:
    """A complaint's SLA targets, soonest due first, each with `business_seconds`: the business
    time from the complaint to when the target was met, in event time, on the calendar its
    policy counts it on (`elapsed_seconds` is what the SLA clock counted between the events'
    own times, time waiting on the customer left out)."""
    rows = conn.execute(
        f"SELECT {', '.join(f't.{c}' for c in TARGET_FIELDS)}, t.policy, c.source,"  # noqa: S608
        " c.occurred_at FROM analytics.sla_targets t JOIN analytics.complaints c"
        " USING (complaint_id) WHERE t.complaint_id = %s ORDER BY t.deadline, t.target",
        (complaint_id,),
    ).fetchall()
    cal = business or calendars()
    out = []
    for *fields, policy, source, occurred_at in rows:
        got = dict(zip(TARGET_FIELDS, fields, strict=True))
        met_at = got["met_at"]
        got["business_seconds"] = (
            None
            if met_at is None or occurred_at is None
            else cal.seconds(policy, got["target"], source, occurred_at, met_at)
        )
        out.append(got)
    return out


def timeline(conn: psycopg.Connection, complaint_id: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT at, topic, kind, payload FROM analytics.events WHERE complaint_id = %s"
        " ORDER BY at, recorded_at",
        (complaint_id,),
    ).fetchall()


def show(url: str, key: str) -> str:
    """The complaint's current state and its full timeline, as text."""
    with psycopg.connect(url) as conn:
        found = find_one(conn, key)
        if found is None:
            return f"No complaint with id or reference {key!r} in the archive."
        lines = [f"Complaint {found['reference']}  ({found['complaint_id']})"]
        events = timeline(conn, str(found["complaint_id"]))
        for col in COLUMNS[2:]:
            if found[col] is not None:
                shown = found[col]
                if col == "category":
                    shown = category_label(str(shown), events)
                lines.append(f"  {col:<16} {shown}")
        targets = sla_targets(conn, str(found["complaint_id"]))
        if targets:
            lines.append("SLA targets:")
        for t in targets:
            met_at, deadline = t["met_at"], t["deadline"]
            extra = f", met {met_at:%Y-%m-%d %H:%M}Z" if met_at is not None else ""
            extra += " (late)" if met_at is not None and met_at > deadline else ""
            extra += " breached" if t["breached"] and met_at is None else ""
            level = t["escalation_level"]
            extra += f", escalated to level {level}" if level else ""
            took = t["business_seconds"]
            extra += f", took {took / 3600:.1f} business h" if took is not None else ""
            lines.append(
                f"  {t['target']:<14} {t['state']:<10} due {deadline:%Y-%m-%d %H:%M}Z{extra}"
            )
        lines.append("Timeline:")
        for at, _topic, kind, payload in events:
            detail = _detail(kind, payload)  # type: ignore[arg-type]
            lines.append(f"  {at:%Y-%m-%d %H:%M:%S}Z  {kind:<34} {detail}")
        return "\n".join(lines)


def category_label(category: str, events: list[tuple[object, ...]]) -> str:
    """The category as people read it: the display names the latest routing decision of that
    category gave (Chinese and English), with the taxonomy's name; the name alone without."""
    for *_, payload in reversed(events):
        if isinstance(payload, dict) and payload.get("category") == category:
            display = payload.get("category_display")
            if isinstance(display, dict) and display:
                names = dict.fromkeys(
                    str(display[lang]) for lang in ("zh-Hans", "zh-Hant", "en") if display.get(lang)
                )
                return f"{' / '.join(names)} ({category})"
    return category


def _detail(kind: str, payload: dict[str, object]) -> str:
    keys = (
        "department",
        "priority",
        "status",
        "note",
        "threshold_pct",
        "late_by_seconds",
        "level",
        "escalated_to",
        "outcome",
        "recipient",
        "score",
        "amount",
        "currency",
    )
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) is not None]
    if kind.startswith("routed") and payload.get("reasons"):
        parts.append("reasons=" + json.dumps(payload["reasons"], ensure_ascii=False))
    return " ".join(parts)


@dataclass(frozen=True)
class Filters:
    """What `complaintflow list` (and the read API) select by; None means any."""

    status: str | None = None
    department: str | None = None
    priority: str | None = None
    category: str | None = None
    channel: str | None = None
    place: str | None = None
    """Exactly the place as archived (as the call center named it, spaces folded); `lat,lon`
    on the archive's grid of 3 decimals (`31.2304,121.4737` finds `31.230,121.474`)."""
    breached: bool | None = None
    sensitive: bool | None = None
    repeat: bool | None = None
    since: datetime | None = None
    """Registered at or after."""
    until: datetime | None = None
    """Registered before."""
    customer_token: str | None = None
    limit: int = 20
    after: tuple[datetime, str] | None = None
    """Keyset position (registered_at, complaint_id) of the last row of the previous page:
    only complaints after it in the listing's order (newest first)."""

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition and its parameters (always parameterised)."""
        terms = ["reference IS NOT NULL"]
        params: list[object] = []
        for column in ("status", "department", "priority", "category", "channel", "place"):
            value = getattr(self, column)
            if column == "place" and value is not None:
                value = coordinates(value) or value
            if value is not None:
                terms.append(f"{column} = %s")
                params.append(value)
        if self.customer_token is not None:
            terms.append("customer_token = %s")
            params.append(self.customer_token)
        for flag, column in (("breached", "sla_breached"), ("sensitive", "sensitive")):
            value = getattr(self, flag)
            if value is not None:
                terms.append(f"{column} = %s")
                params.append(value)
        if self.repeat is not None:
            terms.append("repeat_count > 0" if self.repeat else "repeat_count = 0")
        if self.since is not None:
            terms.append("registered_at >= %s")
            params.append(self.since)
        if self.until is not None:
            terms.append("registered_at < %s")
            params.append(self.until)
        if self.after is not None:
            terms.append("(registered_at, complaint_id) < (%s, %s)")
            params.extend(self.after)
        return " AND ".join(terms), params


LISTED = (
    "reference",
    "complaint_id",
    "status",
    "category",
    "department",
    "priority",
    "channel",
    "place",
    "sla_breached",
    "sensitive",
    "repeat_count",
    "registered_at",
    "resolved_at",
)


def category_names(conn: psycopg.Connection) -> dict[str, dict[str, str]]:
    """Each category's display names by language, from its latest archived routing decision
    that gave any (the routing taxonomy's `display`), as the archive keeps them: one small
    row per category."""
    rows = conn.execute("SELECT category, display FROM analytics.category_names").fetchall()
    return {str(c): {str(k): str(v) for k, v in shown.items()} for c, shown in rows}


READABLE = {"zh-Hans": ("zh-Hans", "zh-Hant"), "zh-Hant": ("zh-Hant", "zh-Hans")}
"""The display names a reader of each language reads, best first: a Chinese reader reads the
other script's name rather than the taxonomy's (often English) name."""


def display_name(category: object, shown: object, language: str) -> str:
    """The category as an operator reading `language` reads it; its name without one."""
    if isinstance(shown, dict):
        for lang in READABLE.get(language, (language,)):
            if shown.get(lang):
                return str(shown[lang])
    return str(category or "-")


def find(conn: psycopg.Connection, filters: Filters) -> list[dict[str, object]]:
    """The complaints that match, newest first (ties by complaint id, descending), each with
    its category's display names by language beside the category (`{}` without)."""
    where, params = filters.where()
    rows = conn.execute(
        f"SELECT {', '.join(LISTED)} FROM analytics.complaints WHERE {where}"  # noqa: S608
        " ORDER BY registered_at DESC NULLS LAST, complaint_id DESC LIMIT %s",
        (*params, filters.limit),
    ).fetchall()
    names = category_names(conn) if rows else {}
    out = []
    for row in rows:
        found: dict[str, object] = {}
        for column, value in zip(LISTED, row, strict=True):
            found[column] = value
            if column == "category":
                found["category_display"] = names.get(str(value), {})
        out.append(found)
    return out


def find_page(
    conn: psycopg.Connection, filters: Filters
) -> tuple[list[dict[str, object]], str | None]:
    """One page of `find` and the cursor of the next (None on the last page). Keyset paging:
    complaints registered meanwhile never shift a page, so none is listed twice or skipped."""
    rows = find(conn, replace(filters, limit=filters.limit + 1))
    if len(rows) <= filters.limit:
        return rows, None
    page = rows[: filters.limit]
    last = page[-1]
    return page, encode_cursor(last["registered_at"], str(last["complaint_id"]))  # type: ignore[arg-type]


def encode_cursor(registered_at: datetime, complaint_id: str) -> str:
    """An opaque token of a keyset position."""
    raw = json.dumps([registered_at.isoformat(), complaint_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str]:
    """The keyset position of a cursor; ValueError when it is not one we made."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, complaint_id = json.loads(raw)
        when = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("not a cursor this API gave out") from exc
    if not isinstance(complaint_id, str) or when.tzinfo is None:
        raise ValueError("not a cursor this API gave out")
    return when, complaint_id


def list_complaints(url: str, filters: Filters, *, fmt: str = "table", language: str = "en") -> str:
    """The matching complaints as a table (categories by their names in `language`), or as
    JSON lines (`fmt="json"`)."""
    with psycopg.connect(url) as conn:
        found = find(conn, filters)
    if fmt == "json":
        return "\n".join(json.dumps(row, default=str, ensure_ascii=False) for row in found)
    if not found:
        return "No complaints match."
    header = f"{'reference':<14} {'status':<20} {'category':<18} {'department':<17} pri breached"
    body = [
        f"{r['reference']:<14} {r['status']:<20} "
        f"{_pad(display_name(r['category'], r['category_display'], language), 18)} "
        f"{(r['department'] or '-'):<17} {(r['priority'] or '-'):<3} "
        f"{'yes' if r['sla_breached'] else 'no'}"
        for r in found
    ]
    return "\n".join([header, *body])


def _pad(text: str, width: int) -> str:
    """`text` left-aligned in `width` terminal columns (a CJK character takes two)."""
    wide = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - wide, 0)
