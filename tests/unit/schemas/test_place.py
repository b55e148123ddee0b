"""A place given as coordinates: on the globe, and on a grid of about 110 m."""

from __future__ import annotations

import pytest

from schemas.raw import coordinates


@pytest.mark.parametrize(
    ("place", "grid"),
    [
        ("31.2304,121.4737", "31.230,121.474"),
        (" 31.2304 , 121.4737 ", "31.230,121.474"),
        ("-33.86882,151.20929", "-33.869,151.209"),
        ("-0.0004,-0.0001", "0.000,0.000"),  # no "-0.000"
        ("51,-1", "51.000,-1.000"),
        ("90,180", "90.000,180.000"),
    ],
)
def test_coordinates_are_put_on_a_three_decimal_grid(place, grid):
    assert coordinates(place) == grid


@pytest.mark.parametrize(
    "place", ["南京东路营业厅", "Store 12, High St", "91,10", "10,181", "1,2,3"]
)
def test_any_other_place_is_not_coordinates(place):
    assert coordinates(place) is None
