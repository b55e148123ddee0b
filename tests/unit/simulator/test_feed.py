"""The simulated feed: deterministic, bilingual, a realistic mix, the agents' work on time."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from services.intake import normalize
from services.intake.validate import parse
from services.kernel.errors import PoisonMessage
from services.routing.rules import decide
from services.simulator.agents import DEMO_SLA_SCALE, TARGETS
from services.simulator.feed import Feed
from services.simulator.scenarios import CENTERS, TEXTS, expected_priority

NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def events(seed: int, n: int, **kw: float) -> list[bytes]:
    return list(islice(Feed(seed, start=NOW, **kw), n))


def valid(lines: list[bytes]) -> list[dict]:
    """The valid events (the malformed left out), as JSON."""
    out = []
    for line in lines:
        try:
            parse(line, now=LATER)
        except PoisonMessage:
            continue
        out.append(json.loads(line))
    return out


def docs(seed: int, n: int, **kw: float) -> list[dict]:
    return valid(events(seed, n, **kw))


def news(seed: int, n: int) -> list[dict]:
    return [d for d in docs(seed, n) if d["type"] == "complaint.new"]


def test_same_seed_same_feed():
    assert events(3, 500) == events(3, 500)
    assert events(3, 50) != events(4, 50)


def test_feed_mixes_types_languages_and_about_one_percent_malformed():
    out = events(7, 3000)
    bad, kinds, languages, sources, statuses = 0, set(), set(), set(), set()
    for line in out:
        try:
            ev = parse(line, now=LATER)
        except PoisonMessage:
            bad += 1
            continue
        kinds.add(ev.type)
        languages.add(ev.language)
        sources.add(ev.source)
        statuses.add(getattr(ev, "status", None))
    assert 0.003 < bad / len(out) < 0.03
    assert kinds == {
        "complaint.new",
        "complaint.contact",
        "complaint.status",
        "callback.promised",
        "compensation.offered",
        "survey.answered",
    }
    assert statuses - {None} == {
        "acknowledged",
        "assigned",
        "in_progress",
        "waiting_on_customer",
        "resolved",
        "reopened",
        "closed",
    }
    assert {"zh-CN", "zh-TW", "en-GB", "en-US"} <= languages
    assert len(sources) == 4


def test_the_feed_settles_near_its_rate():
    # Given the feed's own time at 20 events per second
    feed = Feed(7, start=NOW, rate=20)
    list(islice(feed, 1000))
    started = feed.clock
    # When it has made 2,000 more
    list(islice(feed, 2000))
    # Then that took about 100 s
    assert 70 < (feed.clock - started).total_seconds() < 130


def test_most_complaints_are_acknowledged_and_resolved_within_their_scaled_targets():
    arrived, priority, acked, resolved = {}, {}, {}, {}
    for d in docs(7, 4000):
        at, ref = datetime.fromisoformat(d["occurred_at"]), d["complaint_ref"]
        if d["type"] == "complaint.new":
            arrived[ref] = at
            public = normalize.channel(d["channel"]) in ("regulator", "social")
            category = next(
                c for c, t in TEXTS.items() if any(d["description"] in x for x in t.values())
            )
            priority[ref] = expected_priority(category, d["description"], public=public)
        elif d.get("status") == "acknowledged":
            acked[ref] = at - arrived[ref]
        elif d.get("status") == "resolved":
            resolved.setdefault(ref, at - arrived[ref])
    ack_late = [
        r for r, took in acked.items() if took > TARGETS[priority[r]].acknowledge * DEMO_SLA_SCALE
    ]
    res_late = [
        r for r, took in resolved.items() if took > TARGETS[priority[r]].resolve * DEMO_SLA_SCALE
    ]
    assert len(acked) > 0.9 * len(arrived) and len(resolved) > 0.6 * len(arrived)
    assert 0 < len(ack_late) < 0.08 * len(acked)
    assert 0 < len(res_late) < 0.15 * len(resolved)


def test_every_follow_up_comes_after_its_complaint_and_a_callback_is_promised_ahead():
    arrived = {}
    for d in docs(7, 3000):
        at = datetime.fromisoformat(d["occurred_at"])
        if d["type"] == "complaint.new":
            arrived[d["complaint_ref"]] = at
            continue
        assert at >= arrived[d["complaint_ref"]]
        if d["type"] == "callback.promised":
            assert datetime.fromisoformat(d["due_at"]) > at


def test_on_real_sla_durations_the_agents_take_real_time():
    # Given a feed on unscaled SLAs (a P1 is acknowledged after 90 s at the soonest)
    feed = Feed(7, start=NOW, scale=1.0)
    # When it has run for a minute
    kinds = Counter(d["type"] for d in valid(feed.due_by(NOW + timedelta(minutes=1))))
    # Then only new complaints came in
    assert set(kinds) == {"complaint.new"}


def test_priorities_are_mostly_p3_and_p4_and_p1_is_rare():
    counts = Counter(
        decide(
            category=d["category"],
            text=d["description"],
            repeat_count=0,
            channel=normalize.channel(d["channel"]),
        ).priority.value
        for d in news(7, 6000)
    )
    total = sum(counts.values())
    assert counts["P3"] + counts["P4"] > 0.6 * total
    assert counts["P1"] < 0.05 * total
    assert counts["P2"] < 0.35 * total


@pytest.mark.parametrize("public", [False, True])
def test_the_agents_expect_the_priority_routing_gives(public):
    channel = "regulator" if public else "phone"
    for category, texts in TEXTS.items():
        for text in (t for by_lang in texts.values() for t in by_lang):
            decision = decide(category=category, text=text, repeat_count=0, channel=channel)
            assert decision.priority.value == expected_priority(category, text, public=public)


def test_only_some_centers_have_public_channels_and_they_are_rare():
    assert any(c.public for c in CENTERS)
    channels = Counter(normalize.channel(d["channel"]) for d in news(7, 6000))
    public = channels["regulator"] + channels["social"]
    assert 0 < public < 0.06 * sum(channels.values())


def test_some_simulated_complaints_name_a_place_and_every_place_is_valid():
    # Given three hundred simulated events
    new = [d for d in docs(7, 300) if d["type"] == "complaint.new"]
    # Then some, not all, new complaints name a place, and intake accepted each of them
    places = [d["place"] for d in new if "place" in d]
    assert 0 < len(places) < len(new)
    assert {p for c in CENTERS for p in c.places} >= set(places)
