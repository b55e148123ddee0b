"""The stats topic's key per window, and the duration summaries the figures report (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.stats import StatsRecord
from services.analytics.figures import Durations, summary
from services.analytics.stats import key

AT = datetime(2026, 3, 4, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "start", "expected"),
    [
        ("all", None, "place=Oxford St=all"),
        ("hour", AT, "place=Oxford St=all@hour:2026-03-04T09"),
        ("day", AT.replace(hour=0), "place=Oxford St=all@day:2026-03-04"),
        ("week", datetime(2026, 3, 2, tzinfo=UTC), "place=Oxford St=all@week:2026-W10"),
        ("week", datetime(2026, 12, 28, tzinfo=UTC), "place=Oxford St=all@week:2026-W53"),
    ],
)
def test_each_window_has_its_documented_key(window, start, expected):
    record = StatsRecord(
        dimension="place", value="Oxford St=all", window=window, window_start=start,
        received=1, open=1, resolved=0, breached=0, updated_at=AT,
    )  # fmt: skip
    assert key(record) == expected


def test_summaries_interpolate_percentiles_as_postgres_does():
    assert summary([]) == Durations()
    assert summary([60.0]) == Durations(1, 60.0, 60.0, 60.0)
    # percentile_cont: position q * (n - 1) between the ordered values
    assert summary([21600.0, 5400.0, 7200.0]) == Durations(3, 11400.0, 7200.0, 18720.0)
    assert summary([1.0, 2.0, 3.0, 4.0]) == Durations(4, 2.5, 2.5, 3.7)
