"""What the detector reads of one complaint: the registered facts joined with routing's
category (pure). Routing's first decision names the category; a complaint whose category
routing could not decide, or decided with little confidence, is one no category explains."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint

UNCATEGORISED = "uncategorised"
"""Routing's category for a complaint it could not classify (sent to triage)."""


@dataclass(frozen=True)
class Signal:
    complaint_id: str
    occurred_at: float
    """Event time, epoch seconds."""
    category: str
    explained: bool
    """False when no category explains the complaint (uncategorised or unsure)."""
    channel: str
    customer: str
    text: str
    region: str | None = None
    product: str | None = None
    place: str | None = None
    part: int = 0
    """The source partition it was read from (the detector's watermark waits for each)."""

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at, UTC)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Signal:
        return cls(**doc)


def join(
    reg: RegisteredComplaint, route: RoutedComplaint, *, min_confidence: float, part: int = 0
) -> Signal:
    """The signal of a registered complaint and routing's decision about it."""
    explained = route.category != UNCATEGORISED and route.confidence >= min_confidence
    text = " ".join(filter(None, [reg.subject, reg.description]))
    if reg.subject and reg.description.startswith(reg.subject):
        text = reg.description
    return Signal(
        complaint_id=reg.complaint_id,
        occurred_at=reg.occurred_at.timestamp(),
        category=route.category,
        explained=explained,
        channel=reg.channel.value,
        customer=reg.customer_token,
        text=text[:1000],
        region=reg.region,
        product=reg.product,
        place=reg.place,
        part=part,
    )


def place_key(place: str) -> str:
    """The form two spellings of one place are compared in: case-folded, single spaces."""
    return " ".join(place.casefold().split())


def slices(s: Signal) -> list[dict[str, str]]:
    """The slices a complaint counts in: category × region, category × product, place,
    channel (those it has)."""
    out = []
    if s.region:
        out.append({"category": s.category, "region": s.region})
    if s.product:
        out.append({"category": s.category, "product": s.product})
    if s.place:
        out.append({"place": place_key(s.place)})
    out.append({"channel": s.channel})
    return out


def slice_name(sl: dict[str, str]) -> str:
    """The slice as a state key (JSON: a place may hold commas and `=`)."""
    return json.dumps(list(sl.items()), ensure_ascii=False, separators=(",", ":"))


def slice_of(name: str) -> dict[str, str]:
    return {k: v for k, v in json.loads(name)}


def describe(sl: dict[str, str]) -> str:
    """`category=billing,region=north`, for people and alert keys."""
    return ",".join(f"{k}={v}" for k, v in sl.items())
