"""The trend chart's x labels: few enough not to run into each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.analytics.report.charts import ticks

DAY = datetime(2026, 12, 3, tzinfo=UTC)


def test_a_days_hours_are_labelled_by_the_hour_every_third_bar():
    # A day's 24 hours once had 12 labels `03 00:00`, `03 02:00` … that ran together
    hours = [DAY + timedelta(hours=h) for h in range(24)]
    at, labels = ticks(hours, "hour")
    assert at == list(range(0, 24, 3))
    assert labels == ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]


def test_hours_over_two_days_keep_their_day_and_days_of_a_month_at_most_twelve_labels():
    hours = [DAY + timedelta(hours=h) for h in range(48)]
    at, labels = ticks(hours, "hour")
    assert len(at) <= 8 and labels[0] == "03 00:00" and labels[-1].startswith("04 ")
    days = [DAY + timedelta(days=d) for d in range(31)]
    at, labels = ticks(days, "day")
    assert len(at) <= 12 and labels[0] == "12-03"
    assert ticks(days[:7], "day")[1] == [f"12-{d:02d}" for d in range(3, 10)]
