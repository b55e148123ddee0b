"""Retries are data: exponential backoff with jitter, capped, and a last attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notification.retry import RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_backoff_doubles_within_the_jitter_band_and_is_capped():
    policy = RetryPolicy(base_seconds=30, cap_seconds=300, max_attempts=10)
    assert policy.delay(1, rand=lambda: 1.0) == timedelta(seconds=30)
    assert policy.delay(3, rand=lambda: 1.0) == timedelta(seconds=120)
    assert policy.delay(3, rand=lambda: 0.0) == timedelta(seconds=60)
    assert policy.delay(9, rand=lambda: 1.0) == timedelta(seconds=300)


def test_no_next_attempt_once_every_attempt_is_used():
    policy = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=3)
    assert policy.next_attempt(2, NOW, rand=lambda: 1.0) == NOW + timedelta(seconds=2)
    assert policy.next_attempt(3, NOW) is None
