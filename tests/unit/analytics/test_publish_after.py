"""How long the analytics worker waits between two publications of the figures."""

import pytest

from services.analytics.app import publish_after


@pytest.mark.parametrize(
    ("took", "after"),
    [
        (0.01, 5.0),  # a small archive: every 5 s
        (0.4, 20.0),  # figures take at most a fiftieth of the worker's time
        (1.2, 60.0),
        (3.0, 60.0),  # a slow computation (a busy machine, a huge archive): a minute at most
    ],
)
def test_the_figures_take_a_fiftieth_of_the_time_and_are_never_more_than_a_minute_old(
    took: float, after: float
) -> None:
    assert publish_after(took) == pytest.approx(after)
