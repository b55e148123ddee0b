"""The circuit per channel, quiet hours in the recipient's zone, the per-channel pace."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.kernel.errors import ConfigError
from services.notification.circuit import CLOSED, HALF_OPEN, OPEN, Circuit
from services.notification.limits import TokenBucket, quiet_span, quiet_until


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_circuit_opens_after_n_failures_probes_once_and_closes_on_success():
    clock = Clock()
    c = Circuit(3, 60, now=clock)
    assert not c.failed() and not c.failed()
    assert c.failed() and c.state == OPEN
    assert not c.allow()
    clock.t = 59.0
    assert not c.allow()
    clock.t = 60.0
    assert c.allow() and c.state == HALF_OPEN
    assert not c.allow()  # one probe at a time
    assert c.failed() and c.state == OPEN  # the probe failed: open again, a new cool-down
    clock.t = 119.0
    assert not c.allow()
    clock.t = 120.0
    assert c.allow()
    assert c.succeeded() and c.state == CLOSED
    assert c.allow() and c.allow()


def test_a_probe_with_nothing_to_send_leaves_the_next_send_as_the_probe():
    clock = Clock()
    c = Circuit(1, 10, now=clock)
    c.failed()
    clock.t = 10.0
    assert c.allow()
    c.idle()
    assert c.allow() and c.state == HALF_OPEN


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("utc", "until"),
    [
        (datetime(2026, 3, 2, 14, 0, tzinfo=UTC), datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),  # 22:00
        (datetime(2026, 3, 2, 20, 0, tzinfo=UTC), datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),  # 04:00
        (datetime(2026, 3, 2, 2, 0, tzinfo=UTC), None),  # 10:00
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), None),  # 08:00 sharp: over
    ],
)
def test_quiet_hours_end_at_eight_in_the_recipient_s_zone(utc, until):
    assert quiet_until(utc, SHANGHAI, quiet_span("21:00-08:00")) == until


def test_a_daytime_span_and_no_span():
    span = quiet_span("12:00-13:30")
    assert span == (time(12), time(13, 30))
    noon = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
    assert quiet_until(noon, SHANGHAI, span) == datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    assert quiet_until(noon, SHANGHAI, quiet_span("")) is None


def test_a_malformed_span_names_what_was_expected():
    with pytest.raises(ConfigError, match="HH:MM-HH:MM"):
        quiet_span("9pm-8am")
    with pytest.raises(ConfigError, match="hours 0–23"):
        quiet_span("25:00-08:00")


def test_the_bucket_paces_a_channel():
    clock = Clock()
    bucket = TokenBucket(2.0, burst=2, now=clock)
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.5)
    clock.t = 0.5
    assert bucket.take() == 0


def test_only_a_customer_s_non_urgent_notices_count_against_the_hourly_limit():
    from services.notification.sender import limited

    assert limited("customer", urgent=False)
    assert not limited("customer", urgent=True)
    assert not limited("staff", urgent=False)  # an owner hears of every assignment at once
    assert not limited("staff", urgent=True)
