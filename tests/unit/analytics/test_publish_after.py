"""How long the analytics worker waits between two publications of the figures."""

import pytest

from services.analytics.app import publish_after


@pytest.mark.parametrize(
    ("took", "after"),
    [
        (0.01, 5.0),  # a small archive: every 5 s
        (0.4, 20.0),  # figures take at most a fiftieth of the worker's time
        (1.2, 60.0),
        (3.0, 60.0),  # a slow computation (a busy machine, a large archive): a minute at most
        (6.0, 60.0),
        (12.0, 120.0),  # a minute would be more than a tenth of the worker's time
        (49.0, 490.0),  # a million complaints in a flood: the archive keeps nine tenths
    ],
)
def test_the_figures_take_a_fiftieth_of_the_time_are_a_minute_old_and_never_take_a_tenth(
    took: float, after: float
) -> None:
    assert publish_after(took) == pytest.approx(after)
