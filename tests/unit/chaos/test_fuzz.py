"""The fuzz of `make chaos` counts what it really tried, and a crash is a finding."""

from __future__ import annotations

from hypothesis import strategies as st

from services.chaos import fuzz


def test_every_way_in_is_fuzzed_and_counted_and_nothing_is_found():
    done = fuzz.run(400, seed=5, say=lambda line: None)
    assert done.total == 400 and not done.findings, done.summary()
    assert set(done.counts) == {
        "Kafka bytes",
        "HTTP bodies and headers",
        "CSV rows and mappings",
        "YAML configuration",
    }
    assert "Inputs fuzzed: 400" in done.summary()


def test_a_crash_or_a_reasonless_refusal_is_a_finding_counted_once_per_kind():
    found = fuzz.Fuzzed()

    def fragile(value: int) -> str | None:
        if value % 2:
            raise ZeroDivisionError("odd")
        return "refused without a reason" if value % 3 == 0 else None

    fuzz._fuzz("numbers", st.integers(0, 10**6), fragile, 200, 1, found)
    assert found.counts["numbers"] == 200
    assert any("ZeroDivisionError: odd" in f for f in found.findings)
    assert any("refused without a reason" in f for f in found.findings)
    assert len(found.findings) == 2
