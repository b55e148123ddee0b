"""The US CFPB consumer-complaint export (18- and 16-column variants) as raw events.

Each row becomes a `complaint.new` event; a company response that closed the complaint
also becomes a `complaint.status` event. Event ids derive from the CFPB Complaint ID, so
re-importing a file produces the same events and intake drops the repeats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SOURCE = "cfpb"
MISSING = {"", "none", "n/a", "na", "null"}
REQUIRED = ("Date received", "Product", "Complaint ID")
CHANNELS = {
    "web": "web",
    "referral": "regulator",
    "phone": "phone",
    "postal mail": "letter",
    "fax": "fax",
    "email": "email",
    "web referral": "regulator",
}


def value(row: dict[str, str], column: str) -> str | None:
    raw = (row.get(column) or "").strip()
    return None if raw.lower() in MISSING else raw


def check_header(columns: list[str]) -> None:
    """Raise ValueError naming the columns a CFPB export must have and this one lacks."""
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValueError(f"not a CFPB export: missing column(s) {', '.join(missing)}")


def _date(text: str | None) -> str | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%dT12:00:00+00:00")
        except ValueError:
            continue
    return text  # intake will refuse it with the reason


def events(row: dict[str, str]) -> list[dict[str, Any]]:
    """The raw events of one export row (validation is intake's: nothing is dropped here)."""
    cid = value(row, "Complaint ID") or ""
    issue, sub_issue = value(row, "Issue"), value(row, "Sub-issue")
    narrative = value(row, "Consumer complaint narrative")
    description = narrative or " — ".join(filter(None, [issue, sub_issue])) or "(no narrative)"
    via = (value(row, "Submitted via") or "web").lower()
    tags = value(row, "Tags")
    new: dict[str, Any] = {
        "type": "complaint.new",
        "source": SOURCE,
        "event_id": f"{cid}-new",
        "complaint_ref": cid,
        "occurred_at": _date(value(row, "Date received")),
        "channel": CHANNELS.get(via, via),
        "language": "en",
        "customer": {"region": value(row, "State"), "name": None},
        "category": value(row, "Product"),
        "sub_category": issue,
        "product": value(row, "Sub-product"),
        "subject": " — ".join(filter(None, [issue, sub_issue, tags])) or None,
        "description": description,
    }
    out = [new]
    response = value(row, "Company response to consumer") or ""
    if response.lower().startswith("closed"):
        out.append(
            {
                "type": "complaint.status",
                "source": SOURCE,
                "event_id": f"{cid}-closed",
                "complaint_ref": cid,
                "occurred_at": _date(
                    value(row, "Date sent to company") or value(row, "Date received")
                ),
                "channel": new["channel"],
                "language": "en",
                "status": "closed",
                "corrective_action": response,
            }
        )
    return out
