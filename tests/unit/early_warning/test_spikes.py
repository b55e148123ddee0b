"""Baselines and the upper-tail test of spike detection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from services.early_warning.spikes import SpikeRules, baseline, judge, upper_tail

RULES = SpikeRules()


def test_the_baseline_follows_the_history_it_has():
    # Given a slice that had 4 in every past window
    def flat(_: int) -> int:
        return 4

    # Then: nothing before 9 windows, the C2 moving baseline, then daily, then seasonal
    assert baseline(flat, 100, 8, RULES) is None
    assert baseline(flat, 100, 9, RULES).method == "c2"  # type: ignore[union-attr]
    assert baseline(flat, 100, 24, RULES).method == "daily"  # type: ignore[union-attr]
    weekly = baseline(flat, 1000, 2 * 168, RULES)
    assert weekly is not None and weekly.method == "seasonal" and weekly.expected == 4


def test_the_seasonal_baseline_reads_the_same_hour_of_past_weeks_only():
    # Given Monday 9 am busy (20) each week and every other hour quiet (1)
    def week(j: int) -> int:
        return 20 if j % 168 == 9 else 1

    base = baseline(week, 4 * 168 + 9, 4 * 168, RULES)
    # Then 20 at Monday 9 am is what is expected, not a spike
    assert base is not None and base.expected == 20
    assert not judge(20, base, RULES).significant


def test_a_quiet_slice_going_from_one_to_three_is_not_a_spike():
    base = baseline(lambda _: 1, 500, 400, RULES)
    assert base is not None
    verdict = judge(3, base, RULES)
    assert verdict.ratio == 3 and not verdict.significant


def test_forty_against_two_is_a_spike():
    base = baseline(lambda j: 2, 500, 400, RULES)
    assert base is not None and judge(40, base, RULES).significant


@given(st.floats(0.1, 50), st.integers(0, 200))
def test_the_upper_tail_is_poisson_without_overdispersion(mean, count):
    expected = stats.poisson.sf(count - 1, mean) if count > 0 else 1.0
    assert abs(upper_tail(count, mean, mean) - expected) < 1e-12


@given(st.floats(0.5, 50), st.floats(1.0, 5.0), st.integers(0, 200))
def test_overdispersion_makes_a_count_well_above_the_mean_less_surprising(mean, spread, extra):
    count = int(3 * mean) + 3 + extra
    assert upper_tail(count, mean, mean * spread) >= upper_tail(count, mean, mean) - 1e-12


@given(st.floats(0.5, 50), st.integers(1, 100))
def test_a_larger_count_is_never_less_surprising(mean, count):
    assert upper_tail(count + 1, mean, 2 * mean) <= upper_tail(count, mean, 2 * mean) + 1e-12
