"""Is a slice's count in a window a spike? Baselines and the upper-tail test (pure).

Windows are numbered on event time (`index = epoch seconds // window seconds`). The baseline
of window `i` is, as history allows: the same hour of the week over past weeks (`seasonal`),
the same hour of the day over past days (`daily`), or the EARS C2 moving baseline — the seven
windows before `i` after a guard band of two (`c2`). The count is then tested against a
negative binomial whose variance is the baseline's own spread (plus its estimation error), or
a Poisson where the points spread less than Poisson would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class SpikeRules:
    window_seconds: int = 3600
    min_count: int = 5
    """A window with fewer complaints is never a spike (a quiet slice going 1 → 3 is not)."""
    min_ratio: float = 3.0
    """Count must be at least this many times the expected count."""
    alpha: float = 1e-5
    """Upper-tail probability below which a count is significant (many slices are tested
    every window: this keeps false alarms to a few a year)."""
    seasonal_weeks: int = 4
    min_seasonal_weeks: int = 2
    daily_days: int = 7
    min_daily_days: int = 1
    c2_windows: int = 7
    c2_guard: int = 2
    floor: float = 0.5
    """The least expected count: a slice never seen before is judged against this."""

    @property
    def per_day(self) -> int:
        return max(1, 86_400 // self.window_seconds)

    @property
    def per_week(self) -> int:
        return 7 * self.per_day

    @property
    def keep_windows(self) -> int:
        """How many past windows any baseline reads."""
        return max(
            self.seasonal_weeks * self.per_week,
            self.daily_days * self.per_day,
            self.c2_guard + self.c2_windows,
        )


@dataclass(frozen=True)
class Baseline:
    expected: float
    variance: float
    method: str
    """`seasonal`, `daily` or `c2`."""
    points: int


@dataclass(frozen=True)
class Verdict:
    count: int
    baseline: Baseline
    p_value: float
    significant: bool

    @property
    def ratio(self) -> float:
        return self.count / self.baseline.expected


def baseline(
    count_at: Callable[[int], int], index: int, history: int, rules: SpikeRules
) -> Baseline | None:
    """The baseline of window `index` from `history` complete windows before it, or None while
    there is too little history for any method."""
    if history >= rules.min_seasonal_weeks * rules.per_week:
        weeks = min(rules.seasonal_weeks, history // rules.per_week)
        lags, method = [k * rules.per_week for k in range(1, weeks + 1)], "seasonal"
    elif history >= rules.min_daily_days * rules.per_day:
        days = min(rules.daily_days, history // rules.per_day)
        lags, method = [k * rules.per_day for k in range(1, days + 1)], "daily"
    elif history >= rules.c2_guard + rules.c2_windows:
        lags = list(range(rules.c2_guard + 1, rules.c2_guard + rules.c2_windows + 1))
        method = "c2"
    else:
        return None
    points = [count_at(index - lag) for lag in lags]
    n = len(points)
    mean = sum(points) / n
    spread = sum((p - mean) ** 2 for p in points) / (n - 1) if n > 1 else mean
    expected = max(mean, rules.floor)
    variance = max(spread, expected) * (1 + 1 / n)
    return Baseline(expected, variance, method, n)


def upper_tail(count: int, expected: float, variance: float) -> float:
    """P(X ≥ count) for X negative binomial with this mean and variance (Poisson when the
    variance is not above the mean)."""
    if count <= 0:
        return 1.0
    if variance <= expected * (1 + 1e-9):
        return float(stats.poisson.sf(count - 1, expected))
    r = expected * expected / (variance - expected)
    return float(stats.nbinom.sf(count - 1, r, r / (r + expected)))


def judge(count: int, base: Baseline, rules: SpikeRules) -> Verdict:
    """Whether `count` is a spike against `base`: enough, far enough above, and improbable."""
    p = upper_tail(count, base.expected, base.variance)
    big = count >= rules.min_count and count >= rules.min_ratio * base.expected
    return Verdict(count, base, p, big and p < rules.alpha)


def window_index(epoch_seconds: float, rules: SpikeRules) -> int:
    return math.floor(epoch_seconds / rules.window_seconds)
