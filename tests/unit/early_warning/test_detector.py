"""The detector on event time: spikes against seasonal baselines, one place, new themes."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.alerts import Alert, AlertKind, AlertStatus
from services.early_warning.detector import Detector, Rules
from services.early_warning.signals import Signal
from services.simulator.seasonal import Complaint, steady
from tests.early_warning_story import DATA_CAP, EXPECTED_TERMS, STREET_CORNER, UNRELATED

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
_ids = itertools.count()


def signal(c: Complaint, **over: Any) -> Signal:
    doc: dict[str, Any] = {
        "complaint_id": f"c{next(_ids):06d}",
        "occurred_at": c.at.timestamp(),
        "category": c.category,
        "explained": True,
        "channel": c.channel,
        "customer": c.customer,
        "text": c.text,
        "region": c.region,
    }
    doc.update(over)
    return Signal(**doc)


def run(detector: Detector, complaints: list[Signal]) -> list[Alert]:
    return [a for s in complaints for a in detector.observe(s).alerts]


def test_weeks_of_steady_seasonal_traffic_raise_no_alert():
    # Given four weeks of traffic with a daily and a weekly rhythm, 300 complaints a day,
    # three in ten naming one of 28 places, busy stores and quieter streets, from the first
    # hour, and one in ten that no category explains, in the same few wordings every day
    unexplained = itertools.cycle(UNRELATED)
    traffic = [
        signal(c, place=c.place)
        if i % 10
        else signal(c, place=c.place, explained=False, text=next(unexplained))
        for i, c in enumerate(steady(START, hours=28 * 24, per_day=300, seed=3))
    ]
    # When the detector reads it on event time
    alerts = run(Detector({}, Rules()), traffic)
    # Then nothing is alarming
    assert alerts == [], [a.summary for a in alerts]


def test_an_injected_spike_is_caught_within_two_windows_opened_updated_and_closed():
    # Given nine days of steady traffic, then 40 extra billing complaints in the north in
    # two hours on a Wednesday morning, then normal traffic again
    before = [signal(c) for c in steady(START, hours=9 * 24, per_day=300, seed=5)]
    at = START + timedelta(days=9, hours=10)
    spike = [
        signal(
            Complaint(at + timedelta(minutes=3 * i), "billing", "north", "web", f"s{i}", "x"),
        )
        for i in range(40)
    ]
    after = [signal(c) for c in steady(at, hours=24, per_day=300, seed=6)]
    stream = sorted(before + spike + after, key=lambda s: s.occurred_at)
    # When the detector reads it
    alerts = run(Detector({}, Rules()), stream)
    mine = [a for a in alerts if a.slice == {"category": "billing", "region": "north"}]
    # Then one episode opens within two windows of the spike, grows, and closes
    assert [a.status for a in mine] == [AlertStatus.OPEN, AlertStatus.UPDATED, AlertStatus.CLOSED]
    assert len({a.alert_key for a in mine}) == 1
    opened = mine[0]
    assert opened.kind is AlertKind.SPIKE and opened.category == "billing"
    assert opened.detected_at <= at + timedelta(hours=2)
    assert opened.p_value is not None and opened.p_value < 1e-5
    assert opened.baseline is not None and opened.count >= 3 * opened.baseline
    assert [a.revision for a in mine] == [1, 2, 3]
    assert set(mine[1].complaint_ids) <= {s.complaint_id for s in stream}


def corner(place: str, hours: float, customer: str, category: str, text: str) -> Signal:
    at = START + timedelta(days=1, hours=9 + hours)
    c = Complaint(at, category, "north", "phone", customer, text)
    return signal(c, place=place)


def test_three_customers_at_one_place_in_three_categories_raise_one_collective_alert():
    # Given the street-corner complaints amid ordinary traffic
    street = [corner(*row) for row in STREET_CORNER]
    background = [signal(c) for c in steady(START, hours=4 * 24, per_day=100, seed=8)]
    stream = sorted(background + street, key=lambda s: s.occurred_at)
    # When the detector reads them
    alerts = run(Detector({}, Rules()), stream)
    # Then one collective episode names all three
    collective = [a for a in alerts if a.kind is AlertKind.COLLECTIVE]
    assert [a.status for a in collective] == [AlertStatus.OPEN]
    alert = collective[0]
    assert alert.complaint_ids == [s.complaint_id for s in street]
    assert alert.distinct_customers == 3 and alert.category == "*"
    for category in ("sanitation", "traffic", "market_management"):
        assert category in alert.summary
    for s in street:  # each wording shows in the terms
        assert set(alert.top_terms) & set(s.text.lower().replace(",", " ").split()), s.text
    assert alert.detected_at == street[-1].at


def placed(start: datetime, hours: int, seed: int) -> list[Signal]:
    """Steady traffic, three complaints in ten at one of the regions' busy or quiet places."""
    return [signal(c, place=c.place) for c in steady(start, hours=hours, per_day=300, seed=seed)]


def test_the_street_corner_amid_busy_places_raises_one_collective_alert_after_two_weeks():
    # Given three weeks of traffic naming busy and quiet places, and the street-corner
    # complaints in the third, at a place no one named before
    background = placed(START, 21 * 24, seed=14)
    street = [
        dataclasses.replace(s, occurred_at=s.occurred_at + 15 * 86_400)
        for s in (corner(*row) for row in STREET_CORNER)
    ]
    stream = sorted(background + street, key=lambda s: s.occurred_at)
    # When the detector reads them
    alerts = run(Detector({}, Rules()), stream)
    # Then the one alert of the three weeks is the street corner's, naming all three
    assert [(a.kind, a.status) for a in alerts] == [(AlertKind.COLLECTIVE, AlertStatus.OPEN)]
    alert = alerts[0]
    assert alert.complaint_ids == [s.complaint_id for s in street]
    assert alert.distinct_customers == 3
    assert alert.baseline is not None and alert.baseline < 0.1
    assert alert.p_value is not None and alert.p_value < 1e-4


def test_a_busy_place_with_three_times_its_usual_customers_is_collective():
    # Given four weeks of traffic naming places, and on the fourth Wednesday a hundred more
    # customers than usual complain about one of the busiest (some twenty in three days),
    # in all sorts of categories
    background = placed(START, 28 * 24, seed=15)
    at = START + timedelta(days=23, hours=8)
    crowd = [
        signal(
            Complaint(at + timedelta(minutes=6 * i), ("billing", "network", "safety")[i % 3],
                      "north", "phone", f"cus_crowd{i}", "The shop is closed again."),
            place="north store 1",
        )
        for i in range(100)
    ]  # fmt: skip
    stream = sorted(background + crowd, key=lambda s: s.occurred_at)
    # When the detector reads them
    alerts = run(Detector({}, Rules()), stream)
    # Then one collective episode opens for that place, against what it usually sees there
    collective = [a for a in alerts if a.kind is AlertKind.COLLECTIVE]
    assert {a.alert_key for a in collective} == {collective[0].alert_key}
    opened = collective[0]
    assert opened.status is AlertStatus.OPEN and opened.slice == {"place": "north store 1"}
    assert opened.baseline is not None and opened.baseline > 10
    assert opened.distinct_customers >= 3 * opened.baseline
    assert collective[-1].status is AlertStatus.CLOSED
    assert at <= opened.detected_at <= at + timedelta(hours=10)


def test_the_same_customer_three_times_at_one_place_is_not_collective():
    same = [corner("Gate 3", h, "cus_a", "sanitation", "Bins overflowing.") for h in (1, 2, 3)]
    assert run(Detector({}, Rules()), same) == []


def theme_traffic(texts: tuple[str, ...]) -> list[Signal]:
    background = [signal(c) for c in steady(START, hours=6 * 24, per_day=200, seed=9)]
    noise = [
        signal(c, explained=False, text=t)
        for c, t in zip(
            steady(START, hours=6 * 24, per_day=10, seed=10), itertools.cycle(UNRELATED)
        )
    ]
    at = START + timedelta(days=4, hours=9)
    theme = [
        signal(
            Complaint(at + timedelta(minutes=20 * i), "uncategorised", "east", "web",
                      f"cus_t{i}", text),
            explained=False,
        )
        for i, text in enumerate(texts)
    ]  # fmt: skip
    return sorted(background + noise + theme, key=lambda s: s.occurred_at)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_new_theme_raises_one_emerging_issue_with_its_terms(language):
    # Given customers writing about a data cap, in words no category lists, amid unrelated
    # texts no category explains either
    stream = theme_traffic(DATA_CAP[language])
    # When the detector reads them
    alerts = run(Detector({}, Rules()), stream)
    # Then one emerging-issue episode opens, named by the theme's terms
    emerging = [a for a in alerts if a.kind is AlertKind.EMERGING_ISSUE]
    assert emerging and emerging[0].status is AlertStatus.OPEN
    assert len({a.alert_key for a in emerging}) == 1
    assert EXPECTED_TERMS[language] <= set(emerging[-1].top_terms[:3]), emerging[-1].top_terms
    assert emerging[-1].distinct_customers >= 5
    assert not any(a.kind is AlertKind.SPIKE for a in alerts)


def test_partitions_read_in_their_own_order_give_the_alerts_of_the_sorted_history():
    # Given the spike story split over three source partitions, each in event-time order,
    # read in turns of forty complaints per partition (as a consumer fetches them)
    base = [signal(c) for c in steady(START, hours=3 * 24, per_day=300, seed=12)]
    at = START + timedelta(days=2, hours=10)
    spike = [
        signal(Complaint(at + timedelta(minutes=i), "refund", "west", "chat", f"r{i}", "x"))
        for i in range(30)
    ]
    history = sorted(base + spike, key=lambda s: s.occurred_at)
    parts = [
        [dataclasses.replace(s, part=p) for i, s in enumerate(history) if i % 3 == p]
        for p in range(3)
    ]
    turns = itertools.chain.from_iterable(
        part[k : k + 40] for k in range(0, len(history), 40) for part in parts
    )
    # When the detector reads them so, and a second detector reads the sorted history
    shuffled = run(Detector({}, Rules(sources=3)), list(turns))
    sorted_ = run(Detector({}, Rules()), history)
    # Then both raise the same alerts
    assert shuffled == sorted_ and any(a.kind is AlertKind.SPIKE for a in sorted_)
