"""The simulated feed: deterministic, bilingual, with follow-ups and some malformed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import islice

from services.intake.validate import parse
from services.kernel.errors import PoisonMessage
from services.simulator.feed import Feed

NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)


def events(seed: int, n: int) -> list[bytes]:
    return list(islice(Feed(seed, now=lambda: NOW), n))


def test_same_seed_same_feed():
    assert events(3, 500) == events(3, 500)
    assert events(3, 50) != events(4, 50)


def test_feed_mixes_types_languages_and_about_one_percent_malformed():
    out = events(7, 3000)
    bad, kinds, languages, sources = 0, set(), set(), set()
    for line in out:
        try:
            ev = parse(line, now=NOW)
        except PoisonMessage:
            bad += 1
            continue
        kinds.add(ev.type)
        languages.add(ev.language)
        sources.add(ev.source)
    assert 0.003 < bad / len(out) < 0.03
    assert kinds == {
        "complaint.new",
        "complaint.contact",
        "complaint.status",
        "callback.promised",
        "compensation.offered",
        "survey.answered",
    }
    assert {"zh-CN", "zh-TW", "en-GB", "en-US"} <= languages
    assert len(sources) == 4


def test_some_complaints_are_never_resolved():
    news, resolved = set(), set()
    for line in events(7, 3000):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("type") == "complaint.new":
            news.add(doc["complaint_ref"])
        if doc.get("status") == "resolved":
            resolved.add(doc["complaint_ref"])
    assert resolved and len(resolved) < 0.8 * len(news)
