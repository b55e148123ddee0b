"""Steady simulated traffic at event time with a daily and a weekly rhythm (deterministic).

Weeks of complaints in seconds, for the early-warning detector's tests and benchmark: a
Poisson count per hour whose rate follows the hour of the day (quiet nights, busy office
hours) and the day of the week (quieter weekends), spread over categories, regions and
channels in fixed shares. As in the simulated feed, some complaints name the place of the
problem: a few busy places in each region (stores, a station) and many quieter ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

HOURLY = (
    0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6, 1.5,
    1.4, 1.5, 1.6, 1.5, 1.4, 1.3, 1.2, 1.0, 0.8, 0.6, 0.4, 0.3,
)  # fmt: skip
"""Rate of each hour of the day, relative to the day's mean."""
WEEKLY = (1.1, 1.1, 1.05, 1.05, 1.0, 0.45, 0.35)
"""Rate of each day of the week (Monday first), relative to the week's mean."""
CATEGORIES = {"billing": 0.35, "network": 0.25, "delivery": 0.2, "refund": 0.12, "safety": 0.08}
REGIONS = {"north": 0.4, "south": 0.3, "east": 0.2, "west": 0.1}
CHANNELS = {"phone": 0.5, "web": 0.3, "email": 0.15, "chat": 0.05}
PLACE_SHARE = 0.3
"""Share of complaints that name a place (the simulated feed's share)."""
BUSY_SHARE = 0.6
"""Share of those that name one of their region's busy places."""
BUSY_PLACES = 3
QUIET_PLACES = 4
"""Places per region: the busy ones share `BUSY_SHARE`, the quiet ones the rest."""
TEXTS = {
    "billing": ("I was charged twice this month.", "话费多扣了，请退款。"),
    "network": ("My broadband keeps dropping.", "家里宽带断线。"),
    "delivery": ("The parcel never arrived.", "快递没有收到。"),
    "refund": ("Still waiting for my refund.", "退款还没到账。"),
    "safety": ("The charger overheated and burned.", "充电器冒烟了。"),
}


@dataclass(frozen=True)
class Complaint:
    at: datetime
    category: str
    region: str
    channel: str
    customer: str
    text: str
    place: str | None = None


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), list(shares.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: the rates here are small (tens an hour at most).
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def steady(start: datetime, *, hours: int, per_day: float, seed: int = 1) -> Iterator[Complaint]:
    """`hours` of complaints from `start` (an hour boundary), `per_day` a day on average,
    in event-time order."""
    rng = random.Random(seed)
    where = random.Random(seed + 1)  # its own draws: the other fields stay as they were
    n = 0
    for h in range(hours):
        hour = start + timedelta(hours=h)
        lam = per_day / 24 * HOURLY[hour.hour] * WEEKLY[hour.weekday()]
        offsets = sorted(rng.random() * 3600 for _ in range(_poisson(rng, lam)))
        for offset in offsets:
            n += 1
            category = _pick(rng, CATEGORIES)
            region = _pick(rng, REGIONS)
            yield Complaint(
                at=hour + timedelta(seconds=offset),
                category=category,
                region=region,
                channel=_pick(rng, CHANNELS),
                customer=f"cus_{rng.randrange(10**9):09d}",
                text=rng.choice(TEXTS[category]),
                place=_place(where, region),
            )


def _place(rng: random.Random, region: str) -> str | None:
    if rng.random() >= PLACE_SHARE:
        return None
    if rng.random() < BUSY_SHARE:
        return f"{region} store {rng.randrange(BUSY_PLACES)}"
    return f"{region} street {rng.randrange(QUIET_PLACES)}"
