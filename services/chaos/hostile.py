"""Hostile raw input, the same for the same seed: what an attacker or a broken call-center
system sends — huge keys and fields, bytes that are not UTF-8, JSON bombs, control
characters, absurd dates, wrong types, the same ids again with other content, injection and
template text, right-to-left and emoji — beside valid complaints that carry planted,
recognisable customer data (which must never come out in clear downstream)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

SOURCE = "fuzz-cc"
PLANTED = {
    "name": "Zebulon Quartzfield",
    "phone": "+86 139 8765 4321",
    "email": "zq.planted@example.org",
    "national_id": "11010519491231002X",
}
"""Customer data planted in valid events: none of it may appear in clear downstream."""
NASTY = (
    "'; DROP TABLE intake.complaints; --",
    "{{ config.__class__.__init__.__globals__ }}",
    "{% for x in range(10**9) %}{% endfor %}",
    "<script>alert(document.cookie)</script>",
    "\u202egnp.exe\u202c مرحبا שלום",
    "😀" * 500,
    "%s%s%s%n",
    "../../../../etc/passwd",
    "\\u0000",
)


@dataclass(frozen=True)
class Hostile:
    kind: str
    key: bytes | None
    value: bytes | None


def records(n: int, *, seed: int) -> Iterator[Hostile]:
    """`n` records, cycling through every kind in a seeded order."""
    rng = random.Random(seed)
    makers = list(_MAKERS.items())
    for i in range(n):
        kind, make = makers[rng.randrange(len(makers))]
        key, value = make(rng, i)
        yield Hostile(kind, key, value)


def _base(rng: random.Random, i: int, **fields: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "type": "complaint.new",
        "source": SOURCE,
        "event_id": f"fz-{i}",
        "complaint_ref": f"FZ-{i % 997}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel": rng.choice(("电话", "web", "微信")),
        "language": "zh-CN",
        "category": "billing",
        "description": f"账单错误，请联系 {PLANTED['name']} {PLANTED['phone']}",
        "customer": dict(PLANTED),
    }
    doc.update(fields)
    return doc


def _json(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def _key(i: int) -> bytes:
    return f"{SOURCE}:FZ-{i % 997}".encode()


Maker = Callable[[random.Random, int], tuple[bytes | None, bytes | None]]

_MAKERS: dict[str, Maker] = {
    "valid": lambda r, i: (_key(i), _json(_base(r, i))),
    "valid follow-up": lambda r, i: (
        _key(i),
        _json(_base(r, i, type="complaint.contact", note=f"{PLANTED['email']} 又来电")),
    ),
    "duplicate id, other content": lambda r, i: (
        _key(i),
        _json(_base(r, r.randrange(max(i, 1)), description=r.choice(NASTY))),
    ),
    "nasty text": lambda r, i: (_key(i), _json(_base(r, i, description=r.choice(NASTY)))),
    "huge key": lambda r, i: (b"k" * r.choice((2_000, 100_000)), _json(_base(r, i))),
    "not UTF-8": lambda r, i: (_key(i), b'{"type": "complaint.new", "x": "\xff\xfe\xc3"}'),
    "JSON bomb": lambda r, i: (_key(i), b"[" * r.choice((1_000, 50_000)) + b"]" * 10),
    "control characters": lambda r, i: (
        _key(i),
        _json(_base(r, i, description="a\u0000b\u001bc")).replace(b"\\u0000", b"\x00"),
    ),
    "escaped controls": lambda r, i: (_key(i), _json(_base(r, i, description="a\u0000\u001b"))),
    "absurd date": lambda r, i: (
        _key(i),
        _json(
            _base(
                r,
                i,
                occurred_at=r.choice(
                    ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "2026-13-45", 17)
                ),
            )
        ),
    ),
    "absurd callback": lambda r, i: (
        _key(i),
        _json(_base(r, i, type="callback.promised", due_at="9999-12-31T23:59:59+00:00")),
    ),
    "wrong types": lambda r, i: (
        _key(i),
        _json(
            _base(
                r,
                i,
                event_id=r.choice((5, None, [], {"a": 1})),
                customer=r.choice(("someone", 3, [])),
            )
        ),
    ),
    "wrong survey": lambda r, i: (
        _key(i),
        _json(_base(r, i, type="survey.answered", score=r.choice(("high", 0, 99, 2.5)))),
    ),
    "oversized field": lambda r, i: (
        _key(i),
        _json(_base(r, i, description="长" * r.choice((120_000, 150_000)))),
    ),
    "empty": lambda r, i: (_key(i), r.choice((b"", None, b"null", b"{}", b"[]", b'""'))),
    "PII in refused fields": lambda r, i: (
        _key(i),
        _json(_base(r, i, channel=PLANTED["email"], language=PLANTED["phone"])),
    ),
}
